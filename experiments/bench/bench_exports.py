"""Frames/s of every export of one network at every size, from 256x256 to 3840x2160.

Each network is exported as a SavedModel (export_saved_model, what tools/export.py writes:
convolutions to fewer than 16 channels, the 9x9 one to RGB among them, on 2x2 blocks, since
oneDNN computes output channels in groups of 16), as a SavedModel with every convolution as
trained (space_to_depth=False, the export before the blocks), as a float32 TFLite file
(tflite_bytes, run by LiteRT's XNNPACK kernels) and as ONNX (onnx_bytes, run by
onnxruntime), all on the same number of threads (one per core). Each stylizes one uint8
frame per call, uint8 in and out, untiled (the tools tile above 2048x2048 by default), the
TFLite and ONNX runners padding sides to multiples of 4. Every export is loaded afresh per
size. Up to 1920x1080 the exports take turns after warm-up, in an order that rotates each
round; above, each runs its rounds alone (four 4K arenas at once would not fit). Every
timed call comes after a pause (a runtime's threads spin after its call: SETTLE_SECONDS).
Medians.

The targets (issue 15): the SavedModel's frames/s at least 90% of the TFLite file's at every
size, and both at least onnxruntime's (which stands in for the onnxruntime peer, not on this
machine, running the same network).

Networks: FastChi's inception network at width 16 (k 2; random weights, which do not change
the time), the size of the onnxruntime peer's network, and the shipped collection
(fastchi_tf/shipped: six styles; width 32 in the committed results, width 16 since
2026-12-07).

Command: python -m experiments.bench.bench_exports [--quick] [--noonnx (without tf2onnx)]
Run time on 2 CPU cores (AMD EPYC, AVX-512), quiet machine: ~11 min, with each network's
SavedModel profiled by op type where it is furthest behind TFLite (experiments/lib/
op_profile.py); --quick (256x256 and 512x512, the width-16 network, 1 round, its profile)
~1.5 min. Writes results.json and report.md to
experiments/results/bench_exports/.
"""

import dataclasses
import gc
import os
import shutil
import tempfile
import time

import numpy as np

from experiments.lib import op_profile
from experiments.lib import reporting
from experiments.lib import runner
from experiments.shipped import bench_shipped
from fastchi_tf import export

TARGET_RATIO = 0.9  # SavedModel frames/s over TFLite's
INTERLEAVE_MAX_PIXELS = 1920 * 1080
SAVED = "SavedModel"
SAVED_PLAIN = "SavedModel, convolutions as trained"
LITE = "TFLite float32"
ONNX = "ONNX (onnxruntime)"


@dataclasses.dataclass(frozen=True)
class Config:
  networks: tuple = ("inception w16", "shipped")
  sizes: tuple = ((256, 256), (512, 512), (1024, 1024), (1920, 1080), (3840, 2160))
  rounds: int = runner.flag(5, "Timed runs per export and size.")
  warmup: int = 1
  onnx: bool = runner.flag(True, "Also time the ONNX export (needs tf2onnx, onnxruntime).")
  profile: bool = True  # op times of the SavedModel where it is furthest behind TFLite


FULL = Config()
QUICK = Config(networks=("inception w16",), sizes=((256, 256), (512, 512)), rounds=1)


def _model(name):
  import keras  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  if name == "shipped":
    return keras.saving.load_model(shipped.path("keras"), safe_mode=True)
  keras.utils.set_random_seed(0)
  return render_net.build_render_net("inception", width=16, shrink=2)


def _exports(model, folder, onnx):
  """{export: a function that loads it and returns a uint8 frame -> uint8 frame callable}."""
  from fastchi_tf import stylize  # pylint: disable=g-import-not-at-top
  names = export.style_names(model)
  mix = np.eye(len(names), dtype=np.float32)[0] if names else None

  def stylizer(path):
    def load():
      s = stylize.load_stylizer(path)
      if names:
        s.set_style(names[0])
      return s
    return load

  saved, plain = os.path.join(folder, "saved"), os.path.join(folder, "saved_plain")
  export.export_saved_model(model, saved)
  export.export_saved_model(model, plain, space_to_depth=False)
  lite_path = os.path.join(folder, "model.tflite")
  with open(lite_path, "wb") as f:
    f.write(export.tflite_bytes(model))
  loaders = {SAVED: stylizer(saved), SAVED_PLAIN: stylizer(plain), LITE: stylizer(lite_path)}
  if onnx:
    content = export.onnx_bytes(model)

    def load_onnx():
      runner_ = export.OnnxRunner(content, threads=_threads())
      return lambda frame: runner_(frame, mix)
    loaders[ONNX] = load_onnx
  return loaders


def _threads():
  from fastchi_tf import cli  # pylint: disable=g-import-not-at-top
  return cli.threads() or os.cpu_count() or 1


# Idle time before each timed call. onnxruntime's worker threads spin for a while after a
# call returns: at 256x256 a TFLite call right after an onnxruntime one took 70 ms against
# 50 ms alone (52 ms after a 0.05 s pause), and rotating the order did not cancel it.
SETTLE_SECONDS = 0.1


def _timed(fn, frame):
  time.sleep(SETTLE_SECONDS)
  start = time.perf_counter()
  fn(frame)
  return time.perf_counter() - start


def _time_size(loaders, frame, cfg):
  """{export: [seconds per round]} at one frame size."""
  times = {name: [] for name in loaders}
  if frame.shape[0] * frame.shape[1] <= INTERLEAVE_MAX_PIXELS:
    loaded = {name: load() for name, load in loaders.items()}
    for fn in loaded.values():
      for _ in range(cfg.warmup):
        fn(frame)
    order = list(loaded)
    for i in range(cfg.rounds):
      for name in order[i % len(order):] + order[:i % len(order)]:
        times[name].append(_timed(loaded[name], frame))
    del loaded
    gc.collect()
    return times
  for name, load in loaders.items():  # one at a time: each holds GBs of activations
    fn = load()
    for _ in range(cfg.warmup):
      fn(frame)
    times[name] = [_timed(fn, frame) for _ in range(cfg.rounds)]
    del fn
    gc.collect()
  return times


def run(cfg, out_dir):
  del out_dir
  rows, profiles = [], {}
  for network in cfg.networks:
    scratch = tempfile.mkdtemp(prefix="fastchi-bench-exports-")
    try:
      loaders = _exports(_model(network), scratch, cfg.onnx)
      for width, height in cfg.sizes:
        times = _time_size(loaders, bench_shipped.photo_frame(width, height), cfg)
        for name, values in times.items():
          median = reporting.median(values)
          rows.append(dict(network=network, size=f"{width}x{height}", export=name,
                           seconds=median, fps=1.0 / median, rounds=values))
        print(f"{network} {width}x{height}: " + ", ".join(
            f"{r['export']} {r['fps']:.2f}/s" for r in rows[-len(times):]), flush=True)
      if cfg.profile:
        profiles[network] = _profile_worst(rows, network, os.path.join(scratch, "saved"))
    finally:
      shutil.rmtree(scratch, ignore_errors=True)
  return dict(rows=rows, threads=_threads(), settle=SETTLE_SECONDS, profiles=profiles)


def _profile_worst(rows, network, saved):
  """op_profile of the SavedModel at the size where it is furthest behind TFLite."""
  by = {(r["size"], r["export"]): r["fps"] for r in rows if r["network"] == network}
  size = min((s for s, e in by if e == SAVED), key=lambda s: by[(s, SAVED)] / by[(s, LITE)])
  width, height = (int(v) for v in size.split("x"))
  profile = op_profile.saved_model_op_times(saved, bench_shipped.photo_frame(width, height),
                                            threads=_threads())
  return dict(size=size, **profile)


def _by(summary):
  return {(r["network"], r["size"], r["export"]): r for r in summary["rows"]}


def _ratios(summary, export_name, against=LITE):
  """{(network, size): export_name's frames/s over `against`'s}."""
  rows = _by(summary)
  return {(n, s): rows[(n, s, export_name)]["fps"] / rows[(n, s, against)]["fps"]
          for (n, s, e) in rows if e == against and (n, s, export_name) in rows}


def _comparisons(summary):
  """[(export, against, its frames/s over against's by (network, size), least ratio)]."""
  out = [(SAVED, LITE, _ratios(summary, SAVED), TARGET_RATIO)]
  if any(r["export"] == ONNX for r in summary["rows"]):
    # The onnxruntime peer itself is not on this machine: onnxruntime running the same
    # network stands in for it.
    out += [(name, ONNX, _ratios(summary, name, ONNX), 1.0) for name in (SAVED, LITE)]
  return out


def _span(ratios):
  worst = min(ratios, key=ratios.get)
  return (f"{min(ratios.values()):.2f}-{max(ratios.values()):.2f}x (lowest: {worst[0]} at "
          f"{worst[1]})")


def targets(summary):
  return [(f"{name} at least {least:.0%} of {'TFLite' if against == LITE else 'onnxruntime'}"
           f"'s frames/s{' on the same network' if against == ONNX else ''} at every size",
           _span(ratios), min(ratios.values()) >= least)
          for name, against, ratios, least in _comparisons(summary)]


def finding(summary):
  return "; ".join(
      f"{name} / {'TFLite' if against == LITE else 'onnxruntime'} {_span(ratios)} "
      f"({reporting.met(min(ratios.values()) >= least)})"
      for name, against, ratios, least in _comparisons(summary))


# Op types shown in the profile table (the rest summed in one row).
PROFILE_ROWS = 8


def _limits(summary, rows):
  """Report lines: where the SavedModel is furthest behind TFLite, what its time goes to."""
  lines = []
  for network, p in summary.get("profiles", {}).items():
    ops = dict(sorted(p["ops"].items(), key=lambda item: -item[1]))  # (JSON sorts keys)
    conv = sum(ms for op, ms in ops.items() if "Conv2D" in op)
    lite = 1000 * rows[(network, p["size"], LITE)]["seconds"]
    shown = list(ops.items())[:PROFILE_ROWS]
    rest = sum(ops.values()) - sum(ms for _, ms in shown)
    lines += [
        f"## What limits the SavedModel: {network} at {p['size']}",
        "",
        f"Where it is furthest behind TFLite. TensorFlow's step stats (experiments/lib/"
        f"op_profile.py: a graph-mode session on the same SavedModel, {p['plain_ms']:.0f} ms "
        f"per frame untraced, {p['traced_ms']:.0f} traced) over {p['op_runs']:.0f} ops run "
        f"per frame; ms per frame by op type (their sum exceeds the wall time where ops "
        f"run side by side):",
        "",
        reporting.markdown_table(["op type", "ms per frame"],
                                 [[op, f"{ms:.2f}"] for op, ms in shown]
                                 + ([["(the others)", f"{rest:.2f}"]] if rest > 0 else [])),
        "",
        f"Its convolutions alone take {conv:.0f} ms per frame, {conv / lite:.2f}x TFLite's "
        f"whole frame ({lite:.0f} ms, XNNPACK's kernels).",
        "",
    ]
  return lines


def report(summary, out_dir):
  del out_dir  # no figures
  rows = _by(summary)
  cfg = summary["config"]
  exports = list(dict.fromkeys(r["export"] for r in summary["rows"]))
  table = []
  for network in cfg["networks"]:
    for width, height in cfg["sizes"]:
      size = f"{width}x{height}"
      lite = rows[(network, size, LITE)]["fps"]
      for name in exports:
        r = rows[(network, size, name)]
        table.append([network, size, name, f"{1000 * r['seconds']:.0f}", f"{r['fps']:.2f}",
                      f"{r['fps'] / lite:.2f}"])
  machine = summary["machine"]
  lines = [
      "# Every export's speed at every size",
      "",
      "One uint8 frame per call, untiled, each export as the tools load it; median of "
      f"{cfg['rounds']} rounds after {cfg['warmup']} warm-up (interleaved up to 1920x1080, "
      f"one export at a time above), each call after a {summary['settle']:g} s pause "
      f"(onnxruntime's threads spin after a call); {summary['threads']} threads for every "
      "runtime.",
      "",
      reporting.machine_line(machine) + f"; TensorFlow {machine['tensorflow']}."
      + (" Quick settings: one round, a check that it runs." if summary["quick"] else ""),
      "",
      reporting.markdown_table(["network", "frame", "export", "ms per frame", "frames/s",
                                "x TFLite"], table),
      "",
      "## Targets",
      *[f"- {target}: {measured} ({reporting.met(met)})"
        for target, measured, met in targets(summary)],
      "",
      *_limits(summary, rows),
      "Machines differ by 2-4x (AVX-512 against AVX2 alone); compare exports within one run.",
      "",
  ]
  return "\n".join(lines)


if __name__ == "__main__":
  runner.main(__name__)
