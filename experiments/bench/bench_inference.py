"""CPU inference speed of the render networks, against the machine's own measured peak.

Each network runs as the exported SavedModel runs it (export.uint8_serving_fn: uint8 in,
uint8 out) in a tf.function with a fixed input signature. Per frame size and batch (a
group), every network and both peak probes take turns, once per round, after warm-up;
networks are reported by their median round. The probes are a 2048^3 float32 matmul and a
3x3 128->128 convolution at 256x256, each in a tf.function. GFLOP/s is
fastchi_tf.flops.count_flops of the plain network over the median time, and "% conv peak"
divides it by the best convolution probe round of the same group: other jobs on the machine
slow some rounds, and this keeps the fraction conservative. Targets: the original network at
80% of the convolution peak from 512x512 up, and inception k = 2 at twice the original's
frames/s at the same width.

Command: python -m experiments.bench.bench_inference [--quick] [--jit] [--space_to_depth]
Run time on 2 CPU cores (AMD EPYC, AVX-512), quiet machine: --quick (256x256 and 512x512,
  batch 1 and 4, 3 rounds) ~35 s; full (4 sizes, 5 rounds) ~2 min, ~4 min with
  --space_to_depth; --jit adds about as much again. Twice that when another job shares the CPU.
Writes results.json and report.md (the table, the peaks, the targets) to
experiments/results/bench_inference/.
"""

import dataclasses
import itertools
import os
import time

import tensorflow as tf

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import export
from fastchi_tf import render_net
from fastchi_tf.flops import count_flops

TARGET_PEAK_FRACTION = 0.8  # of the convolution peak, for the original network...
TARGET_MIN_PIXELS = 512 * 512  # ...at frames of at least this many pixels
TARGET_SPEEDUP = 2.0  # inception k = 2 over the original at the same width, frames/s


@dataclasses.dataclass(frozen=True)
class Config:
  # (variant, width, k): the original and FastChi's inception network with k = 2.
  networks: tuple = (("original", 32, None), ("inception", 32, 2), ("inception", 16, 2))
  sizes: tuple = ((256, 256), (640, 360), (512, 512), (1280, 720))  # (width, height)
  batches: tuple = (1, 4)
  rounds: int = runner.flag(5, "Timed runs per network.")
  warmup: int = 2  # untimed runs first (tracing, oneDNN primitive creation)
  jit: bool = runner.flag(False, "Also time every network with XLA (jit_compile=True).")
  space_to_depth: bool = runner.flag(
      False, "Also time every network with render_net.use_space_to_depth (the form the "
      "SavedModel export and .keras stylizing run).")
  intra_op_threads: int = runner.flag(0, "TensorFlow intra-op threads (0: default).")
  inter_op_threads: int = runner.flag(0, "TensorFlow inter-op threads (0: default).")
  matmul_size: int = 2048  # the matmul probe's n
  conv_probe_size: int = 256  # the convolution probe's frame side...
  conv_probe_channels: int = 128  # ...and channels
  probes: bool = True  # time the peak probes


FULL = Config()
QUICK = Config(sizes=((256, 256), (512, 512)), rounds=3)


def _timed(fn):
  start = time.perf_counter()
  tf.nest.map_structure(lambda t: t.numpy(), fn())  # .numpy() waits for the result
  return time.perf_counter() - start


def peak_probes(n=2048, s=256, c=128):
  """{name: (callable, FLOPs per call)}: an n^3 matmul, a 3x3 c->c convolution at s x s."""
  a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
  x, k = tf.random.normal([1, s, s, c]), tf.random.normal([3, 3, c, c])
  matmul = tf.function(tf.linalg.matmul)
  conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, strides=1, padding="SAME"))
  return {"matmul": (lambda: matmul(a, b), 2 * n ** 3),
          "conv3x3": (lambda: conv(x, k), 2 * s * s * 9 * c * c)}


def serving_fn(model, height, width, batch, jit=False):
  """The SavedModel's uint8 -> uint8 computation, traced for one input shape."""
  # (the SavedModel's image-by-image loop, but one call under XLA, which a loop of unknown
  # element shapes does not compile)
  return tf.function(export.uint8_serving_fn(model, per_image=not jit), jit_compile=jit,
                     input_signature=[tf.TensorSpec([batch, height, width, 3], tf.uint8)])


def time_group(fns, rounds, warmup=2):
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


def bench_group(models, size, batch, rounds, probes=None, warmup=2):
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
    lines += [f"- {form}: original >= 80% of conv peak from 512x512 up: "
              f"{t['original_at_80_percent_of_conv_peak']} ({fractions})",
              f"- {form}: inception k=2 >= 2x the original's frames/s: "
              f"{t['inception_k2_at_2x']} ({speedups})"]
  return "\n".join(lines)


def table(rows):
  header = ["network", "width", "k", "form", "frame", "batch", "ms/frame", "frames/s",
            "GFLOP/frame", "GFLOP/s", "% matmul peak", "% conv peak"]
  percent = lambda r, name: (round(100 * r[f"fraction_of_{name}_peak"])
                             if f"fraction_of_{name}_peak" in r else "-")
  form = lambda r: "+".join(n for n, on in zip(("XLA", "s2d"), (r["jit"], r["space_to_depth"]))
                            if on) or "plain"
  body = [[r["variant"], r["width"], r["shrink"] or "-", form(r), r["frame"], r["batch"],
           round(r["ms_per_frame"], 1), round(r["frames_per_s"], 2),
           round(r["gflop_per_frame"], 2), round(r["gflops"]), percent(r, "matmul"),
           percent(r, "conv3x3")] for r in rows]
  return reporting.markdown_table(header, body)


def forms(cfg):
  """(jit, space_to_depth) pairs: the plain network, then the forms asked for."""
  return [(False, False)] + [(True, False)] * cfg.jit + [(False, True)] * cfg.space_to_depth


def run(cfg, out_dir, log=print):
  """Every network in every form, group by group; returns rows, peaks and targets."""
  del out_dir  # numbers only
  # Thread pools are fixed when TensorFlow runs its first op, so set them before anything.
  if cfg.intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(cfg.intra_op_threads)
  if cfg.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(cfg.inter_op_threads)
  models = build_models(cfg.networks, forms(cfg))
  probe_fns = (peak_probes(cfg.matmul_size, cfg.conv_probe_size, cfg.conv_probe_channels)
               if cfg.probes else None)
  rows, probe_rates = [], {}
  for size, batch in itertools.product(cfg.sizes, cfg.batches):
    group, rates = bench_group(models, size, batch, cfg.rounds, probe_fns, cfg.warmup)
    for r in group:
      log(f"{r['variant']} w{r['width']} {r['frame']} batch {batch} jit={r['jit']} "
          f"s2d={r['space_to_depth']}: {r['ms_per_frame']:.1f} ms/frame, "
          f"{r['gflops']:.0f} GFLOP/s")
    rows += group
    for name, values in rates.items():
      probe_rates.setdefault(name, []).extend(values)
  return dict(
      rows=rows, peaks_gflops={name: max(values) for name, values in probe_rates.items()},
      probe_gflops=probe_rates, targets=check_targets(rows), runtime=dict(
          intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
          inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
          TF_ENABLE_ONEDNN_OPTS=os.environ.get("TF_ENABLE_ONEDNN_OPTS")))


def _span(values, fmt, unit):
  """"a-b%": the range of `values`, each formatted by `fmt`, then the unit."""
  low, high = fmt(min(values)), fmt(max(values))
  return (low if low == high else f"{low}-{high}") + unit


def _original_ms(summary, frame):
  """Median ms per frame of the plain original w32 network at `frame`, batch 1, or None."""
  for r in summary["rows"]:
    if (r["variant"], r["width"], r["frame"], r["batch"], r["jit"], r["space_to_depth"]) == (
        "original", 32, frame, 1, False, False):
      return r["ms_per_frame"]
  return None


def _spans(summary):
  """{form: "a-b%"} of the original's conv-peak fractions, {form: "a-bx"} of the speed-ups."""
  t = summary["targets"]
  fractions = {form: _span(v["original_fraction_of_conv_peak"].values(),
                           lambda x: f"{100 * x:.0f}", "%")
               for form, v in t.items() if v["original_fraction_of_conv_peak"]}
  speedups = {form: _span(v["inception_k2_speedup"].values(), lambda x: f"{x:.1f}", "x")
              for form, v in t.items() if v["inception_k2_speedup"]}
  return fractions, speedups


def _others(spans):
  return [f"{value} with {form.replace('_', '-')}" for form, value in spans.items()
          if form != "plain"]


def targets(summary):
  """README's rows: (target, measured in each form, met by the plain network)."""
  fractions, speedups = _spans(summary)
  peaks, plain = summary["peaks_gflops"], summary["targets"]["plain"]
  ms = _original_ms(summary, "512x512")
  measured = fractions.get("plain", "-") + (
      f" ({ms:.0f} ms per 512x512 frame; peaks {peaks['conv3x3']:.0f} GFLOP/s conv, "
      f"{peaks['matmul']:.0f} matmul)" if ms and "conv3x3" in peaks else "")
  return [
      (f"original network at least {TARGET_PEAK_FRACTION:.0%} of the measured conv peak at "
       "512x512 and above", "; ".join([measured] + _others(fractions)),
       plain["original_at_80_percent_of_conv_peak"]),
      (f"inception k = 2 at the same width at least {TARGET_SPEEDUP:g}x the original's "
       "frames/s", "; ".join([speedups.get("plain", "-")] + _others(speedups)),
       plain["inception_k2_at_2x"])]


def finding(summary):
  fractions, speedups = _spans(summary)
  return (f"original w32 at {fractions.get('plain', '-')} of the conv peak from 512x512 up; "
          f"inception k = 2 at {speedups.get('plain', '-')} the original's frames/s")


def report(summary, out_dir):
  del out_dir  # no figures
  cfg, peaks = summary["config"], summary["peaks_gflops"]
  channels, side = cfg["conv_probe_channels"], cfg["conv_probe_size"]
  return f"""# Inference speed against the measured peak

Frames as the exported SavedModel takes them (uint8 in and out); per frame size and batch,
every network and both peak probes take turns, {cfg['rounds']} rounds after {cfg['warmup']}
of warm-up; medians. "% conv peak" divides a network's GFLOP/s (the plain network's FLOPs,
whatever form runs) by the best round of the convolution probe (3x3, {channels} channels in
and out, at {side}x{side}) in the same group.

Peaks (best round of the run): {cfg['matmul_size']}^3 matmul {peaks.get('matmul', 0):.0f}
GFLOP/s, convolution {peaks.get('conv3x3', 0):.0f} GFLOP/s.

{table(summary["rows"])}

## Targets
{targets_text(summary["targets"])}
"""


if __name__ == "__main__":
  runner.main(__name__)
