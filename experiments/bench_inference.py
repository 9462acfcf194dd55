"""CPU inference speed of the render networks, against the machine's own measured peak.

Each network runs as the exported SavedModel runs it (export.uint8_serving_fn: uint8 in,
uint8 out) in a tf.function with a fixed input signature. Per frame size and batch (a
group), every network and both peak probes take turns, once per round, after warm-up;
networks are reported by their median round. The probes are a 2048^3 float32 matmul and a
3x3 128->128 convolution at 256x256, each in a tf.function. GFLOP/s is
fastchi_tf.flops.count_flops of the plain network over the median time, and "% conv peak"
divides it by the best convolution probe round of the same group: other jobs on the machine
slow some rounds, and this keeps the fraction conservative.

Command: python experiments/bench_inference.py [--quick] [--jit] [--space_to_depth]
Run time on 2 CPU cores (AMD EPYC, AVX-512), quiet machine: --quick (256x256 and 512x512,
  batch 1 and 4, 3 rounds) ~35 s; full (4 sizes, 5 rounds) ~2 min, ~4 min with
  --space_to_depth; --jit adds about as much again. Twice that when another job shares the CPU.
Expected result: probes ~480 GFLOP/s. The original network runs at 70-75% of the convolution
  peak at every size (512x512: ~245 ms, 4.1 frames/s); with --space_to_depth at 80-84% (~215
  ms). Inception k=2 at width 32 is 1.6-1.7x the original's frames/s (1.7-1.85x with
  --space_to_depth), not 2x: ~70 ms of a 512x512 frame (the two 9x9 RGB convolutions, 15
  instance norms over the same tensors) are the same in both networks. XLA (--jit) is
  25-35% slower (Eigen convolutions instead of oneDNN's); batch 4 is no faster per frame.
Writes experiments/results/bench_inference/results.json (--out_dir).
"""

import itertools
import os
import time

from absl import app
from absl import flags
import tensorflow as tf

from experiments import cli
from experiments import reporting
from fastchi_tf import export
from fastchi_tf import render_net
from fastchi_tf.flops import count_flops

_QUICK = cli.QUICK  # 256x256 and 512x512 only, 3 rounds
_JIT = flags.DEFINE_bool("jit", False, "Also time every network with XLA (jit_compile=True).")
_S2D = flags.DEFINE_bool(
    "space_to_depth", False,
    "Also time every network with render_net.use_space_to_depth (opt-in RGB convolution).")
_ROUNDS = flags.DEFINE_integer("rounds", None, "Timed runs per network (default 5; quick 3).")
_INTRA = flags.DEFINE_integer("intra_op_threads", 0, "TensorFlow intra-op threads (0: default).")
_INTER = flags.DEFINE_integer("inter_op_threads", 0, "TensorFlow inter-op threads (0: default).")

# (variant, width, shrink): the original and FastChi's inception network with k = 2.
NETWORKS = (("original", 32, None), ("inception", 32, 2), ("inception", 16, 2))
SIZES = ((256, 256), (640, 360), (512, 512), (1280, 720))  # (width, height)
QUICK_SIZES = ((256, 256), (512, 512))
BATCHES = (1, 4)
WARMUP = 2
MATMUL_SIZE = 2048
CONV_PROBE = dict(size=256, channels=128)
# Targets on a 2-core CPU: the original at >= 80% of the convolution peak from 512x512 up, and
# inception k = 2 at the same width >= 2x the original's frames/s.
TARGET_PEAK_FRACTION = 0.8
TARGET_MIN_PIXELS = 512 * 512
TARGET_SPEEDUP = 2.0


def _timed(fn):
  start = time.perf_counter()
  tf.nest.map_structure(lambda t: t.numpy(), fn())  # .numpy() waits for the result
  return time.perf_counter() - start


def peak_probes():
  """{name: (callable, FLOPs per call)}: the matmul and the convolution probe."""
  n, c, s = MATMUL_SIZE, CONV_PROBE["channels"], CONV_PROBE["size"]
  a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
  x, k = tf.random.normal([1, s, s, c]), tf.random.normal([3, 3, c, c])
  matmul = tf.function(tf.linalg.matmul)
  conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, strides=1, padding="SAME"))
  return {"matmul": (lambda: matmul(a, b), 2 * n ** 3),
          "conv3x3": (lambda: conv(x, k), 2 * s * s * 9 * c * c)}


def serving_fn(model, height, width, batch, jit=False):
  """The SavedModel's uint8 -> uint8 computation, traced for one input shape."""
  return tf.function(export.uint8_serving_fn(model), jit_compile=jit, input_signature=[
      tf.TensorSpec([batch, height, width, 3], tf.uint8)])


def time_group(fns, rounds, warmup=WARMUP):
  """{name: [seconds]}; the callables take turns once per round, so load changes hit all."""
  for fn in fns.values():
    for _ in range(warmup):
      _timed(fn)
  times = {name: [] for name in fns}
  for _ in range(rounds):
    for name, fn in fns.items():
      times[name].append(_timed(fn))
  return times


def build_models(networks, modes):
  """{(variant, width, shrink, jit, space_to_depth): model}; each mode gets its own model,
  as use_space_to_depth changes how a model traces."""
  models = {}
  for (variant, width, shrink), (jit, s2d) in itertools.product(networks, modes):
    model = render_net.build_render_net(variant, width=width, shrink=shrink or 2)
    models[(variant, width, shrink, jit, s2d)] = (
        render_net.use_space_to_depth(model) if s2d else model)
  return models


def bench_group(models, size, batch, rounds, probes=None, warmup=WARMUP):
  """Rows for every model at one frame size and batch, timed in turns with the probes.

  Args:
    models: build_models(...).
    size: (width, height) of the frames.
    batch: frames per call.
    rounds: timed runs of each model (and probe); medians are reported.
    probes: peak_probes(), or None.
    warmup: untimed runs first (tracing, oneDNN primitive creation).

  Returns:
    (rows, {probe name: [GFLOP/s of each round]}).
  """
  w, h = size
  images = tf.cast(tf.random.uniform([batch, h, w, 3], 0, 256, tf.int32), tf.uint8)
  fns = {key: (lambda fn=serving_fn(model, h, w, batch, key[3]): fn(images))
         for key, model in models.items()}
  fns.update({name: probe for name, (probe, _) in (probes or {}).items()})
  times = time_group(fns, rounds, warmup)
  probe_rates = {name: [flops / t / 1e9 for t in times[name]]
                 for name, (_, flops) in (probes or {}).items()}
  # A network is compared with the best probe round of its own group: other jobs' load
  # changes between groups, and within one the best round is the conservative choice.
  peaks = {name: max(rates) for name, rates in probe_rates.items()}
  useful = {}  # FLOPs of the plain network, whichever form runs
  rows = []
  for key, model in models.items():
    variant, width, shrink, jit, s2d = key
    if key[:3] not in useful:
      plain = render_net.build_render_net(variant, width=width, shrink=shrink or 2)
      useful[key[:3]] = count_flops(plain, h, w, batch)
    flops = useful[key[:3]]
    executed = count_flops(model, h, w, batch) if s2d else flops
    seconds = reporting.median(times[key])
    rows.append(dict(
        variant=variant, width=width, shrink=shrink, jit=jit, space_to_depth=s2d,
        frame=f"{w}x{h}", pixels=w * h, batch=batch, seconds=times[key],
        ms_per_frame=1e3 * seconds / batch, frames_per_s=batch / seconds,
        gflop_per_frame=flops / batch / 1e9, gflops=flops / seconds / 1e9,
        executed_gflop_per_frame=executed / batch / 1e9,
        **{f"{name}_peak_gflops": peak for name, peak in peaks.items()},
        **{f"fraction_of_{name}_peak": flops / seconds / 1e9 / peak
           for name, peak in peaks.items()}))
  return rows, probe_rates


def check_targets(rows):
  """The targets, per form (plain, XLA, space-to-depth); fractions and speedups by frame."""
  targets = {}
  for form in sorted({(r["jit"], r["space_to_depth"]) for r in rows}):
    same = [r for r in rows if (r["jit"], r["space_to_depth"]) == form]
    fractions, speedups = {}, {}
    for r in same:
      if r["variant"] != "original":
        continue
      where = f"{r['frame']} batch {r['batch']}"
      if r["pixels"] >= TARGET_MIN_PIXELS and "fraction_of_conv3x3_peak" in r:
        fractions[where] = r["fraction_of_conv3x3_peak"]
      for t in same:
        if (t["variant"], t["shrink"], t["width"]) == ("inception", 2, r["width"]) and (
            t["frame"], t["batch"]) == (r["frame"], r["batch"]):
          speedups[where] = t["frames_per_s"] / r["frames_per_s"]
    name = "+".join(n for n, on in zip(("xla", "space_to_depth"), form) if on) or "plain"
    targets[name] = dict(
        original_fraction_of_conv_peak=fractions,
        original_at_80_percent_of_conv_peak=(
            min(fractions.values()) >= TARGET_PEAK_FRACTION if fractions else None),
        inception_k2_speedup=speedups,
        inception_k2_at_2x=min(speedups.values()) >= TARGET_SPEEDUP if speedups else None)
  return targets


def targets_text(targets):
  lines = []
  for form, t in targets.items():
    fractions = ", ".join(f"{k} {v:.0%}" for k, v in t["original_fraction_of_conv_peak"].items())
    speedups = ", ".join(f"{k} {v:.2f}x" for k, v in t["inception_k2_speedup"].items())
    lines += [f"{form}: original >= 80% of conv peak from 512x512 up: "
              f"{t['original_at_80_percent_of_conv_peak']} ({fractions})",
              f"{form}: inception k=2 >= 2x the original's frames/s: {t['inception_k2_at_2x']} "
              f"({speedups})"]
  return "\n".join(lines)


def table(rows):
  header = ["network", "width", "k", "form", "frame", "batch", "ms/frame", "frames/s",
            "GFLOP/frame", "GFLOP/s", "% matmul peak", "% conv peak"]
  percent = lambda r, name: round(100 * r.get(f"fraction_of_{name}_peak", float("nan")))
  form = lambda r: "+".join(n for n, on in zip(("XLA", "s2d"), (r["jit"], r["space_to_depth"]))
                            if on) or "plain"
  body = [[r["variant"], r["width"], r["shrink"] or "-", form(r), r["frame"], r["batch"],
           round(r["ms_per_frame"], 1), round(r["frames_per_s"], 2),
           round(r["gflop_per_frame"], 2), round(r["gflops"]), percent(r, "matmul"),
           percent(r, "conv3x3")] for r in rows]
  return reporting.markdown_table(header, body)


def run(sizes, batches, rounds, modes=((False, False),), networks=NETWORKS, warmup=WARMUP,
        probes=True, log=print):
  """The whole benchmark; returns the JSON payload (rows, peaks, targets, settings).

  modes: (jit, space_to_depth) pairs; every network is timed in each.
  """
  models = build_models(networks, modes)
  probe_fns = peak_probes() if probes else None
  rows, probe_rates = [], {}
  for size, batch in itertools.product(sizes, batches):
    group, rates = bench_group(models, size, batch, rounds, probe_fns, warmup)
    for r in group:
      log(f"{r['variant']} w{r['width']} {r['frame']} batch {batch} jit={r['jit']} "
          f"s2d={r['space_to_depth']}: {r['ms_per_frame']:.1f} ms/frame, "
          f"{r['gflops']:.0f} GFLOP/s")
    rows += group
    for name, values in rates.items():
      probe_rates.setdefault(name, []).extend(values)
  peaks = {name: max(values) for name, values in probe_rates.items()}
  settings = dict(
      sizes=[list(s) for s in sizes], batches=list(batches), rounds=rounds, warmup=warmup,
      modes=[list(m) for m in modes], matmul_size=MATMUL_SIZE, conv_probe=CONV_PROBE,
      intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
      inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
      TF_ENABLE_ONEDNN_OPTS=os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
  return dict(rows=rows, peaks_gflops=peaks, probe_gflops=probe_rates,
              targets=check_targets(rows), settings=settings)


def main(argv):
  del argv
  tf.get_logger().setLevel("ERROR")  # a tf.function per frame size is intended, not retracing
  # Thread pools are fixed when TensorFlow runs its first op, so set them before anything.
  tf.config.threading.set_intra_op_parallelism_threads(_INTRA.value)
  tf.config.threading.set_inter_op_parallelism_threads(_INTER.value)
  quick = _QUICK.value
  modes = [(False, False)] + [(True, False)] * _JIT.value + [(False, True)] * _S2D.value
  machine = reporting.machine()  # the load average before the run
  start = time.perf_counter()
  payload = run(sizes=QUICK_SIZES if quick else SIZES, batches=BATCHES,
                rounds=_ROUNDS.value or (3 if quick else 5), modes=modes)
  payload["run_seconds"] = time.perf_counter() - start
  payload["machine"] = machine
  peaks = payload["peaks_gflops"]
  print(f"\nPeaks (best round of the run; the table uses each group's best): {MATMUL_SIZE}^3 "
        f"matmul {peaks['matmul']:.0f} GFLOP/s, 3x3 128->128 conv at 256x256 "
        f"{peaks['conv3x3']:.0f} GFLOP/s\n")
  print(table(payload["rows"]))
  print()
  print(targets_text(payload["targets"]))
  path = os.path.join(reporting.results_dir("bench_inference", cli.OUT_DIR.value),
                      "results.json")
  reporting.write_json(path, payload)
  print(f"Wrote {path} ({payload['run_seconds']:.0f} s)")


if __name__ == "__main__":
  app.run(main)
