"""Peak memory (RSS) of stylizing a 4K (3840x2160) image with and without --tile.

Command: python experiments/bench_memory.py [--quick] [--out_dir DIR]
Run time on 2 CPU cores: 2-3 minutes with --quick (untiled via --tile 0, --tile 512 and the
default, which tiles 4K at 512 automatically; 2 runs each),
about 5 minutes (estimated) in full (also --tile 256 and 1024, 3 runs each).
Expected result: untiled, the inception w16 network's full-resolution activations (16-32
channels of 3840x2160 float32 are 0.5-1 GiB each) take about 11.5 GiB; tiled, memory is
bounded by the tile and the 1024-pixel statistics copy, about 1.5 GiB with --tile 512, of
which 0.7 GiB is TensorFlow, the model and the process (the 256x256 row), and tiling is also
about 2x faster (no page faults over 11 GiB). Target: tiled <= 3 GiB.
Method: every case runs tools/stylize.py as a user would, in a fresh process, on a generated
4K PNG with a .keras inception w16 model (untrained: memory does not depend on the weights);
the peak RSS is the child's ru_maxrss from os.wait4, so cases cannot mask each other (a plain
getrusage(RUSAGE_CHILDREN) reports the largest child so far).
Writes results.json to experiments/results/bench_memory/.
"""

import os
import subprocess
import sys
import tempfile
import time

from absl import app
from PIL import Image

from experiments import cli
from experiments import reporting
from fastchi_tf import build_render_net
from fastchi_tf import demo
from fastchi_tf import export

NAME = "bench_memory"
ROOT = os.path.dirname(reporting.EXPERIMENTS_DIR)
SIZE_4K = (3840, 2160)
# (label, image size, tile); the small image shows what TensorFlow and the model alone take.
# Tile 0 forces untiled: tools/stylize.py tiles 4K automatically (at 1024) by default.
FULL = dict(runs=3, cases=(("256x256", (256, 256), None), ("4K untiled", SIZE_4K, 0),
                           ("4K --tile 256", SIZE_4K, 256), ("4K --tile 512", SIZE_4K, 512),
                           ("4K --tile 1024", SIZE_4K, 1024)))
QUICK = dict(runs=2, cases=(("256x256", (256, 256), None), ("4K untiled", SIZE_4K, 0),
                            ("4K --tile 512", SIZE_4K, 512), ("4K default", SIZE_4K, None)))
TARGET_TILED_GIB = 3.0
GIB = 2 ** 30

_QUICK = cli.QUICK
_OUT_DIR = cli.OUT_DIR


def write_photo(path, size):
  """scikit-image's coffee photo resized to `size` (width, height), as PNG."""
  with Image.open(demo.skimage_data(demo.HELD_OUT_PHOTO)) as photo:
    photo.convert("RGB").resize(size, Image.LANCZOS).save(path)
  return path


def run_stylize(model, image, output, tile=None):
  """Runs tools/stylize.py in a fresh process; returns (peak RSS bytes, seconds)."""
  cmd = [sys.executable, os.path.join(ROOT, "tools", "stylize.py"), "--model", model,
         "--input", image, "--output", output]
  if tile is not None:
    cmd += ["--tile", str(tile)]
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  start = time.perf_counter()
  with tempfile.TemporaryFile() as log:
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, in KiB on Linux
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode:
      log.seek(0)
      tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
      raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(tail))
  return usage.ru_maxrss * 1024, seconds


def main(argv):
  del argv
  s = QUICK if _QUICK.value else FULL
  out_dir = reporting.results_dir(NAME, _OUT_DIR.value)
  machine = reporting.machine()
  results = {label: dict(size=size, tile=tile, peak_rss_bytes=[], seconds=[])
             for label, size, tile in s["cases"]}
  with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "model.keras")
    export.export_keras(build_render_net("inception", 16, 2), model)
    images = {size: write_photo(os.path.join(tmp, f"{size[0]}x{size[1]}.png"), size)
              for size in {size for _, size, _ in s["cases"]}}
    for r in range(s["runs"]):
      for label, size, tile in s["cases"]:  # interleaved, like the other benchmarks
        output = os.path.join(tmp, "out.png")
        rss, seconds = run_stylize(model, images[size], output, tile)
        with Image.open(output) as image:  # reads the header only
          if image.size != size:
            raise RuntimeError(f"{label}: output of {image.size}, expected {size}")
        results[label]["peak_rss_bytes"].append(rss)
        results[label]["seconds"].append(seconds)
        print(f"run {r + 1}/{s['runs']} {label}: {rss / GIB:.2f} GiB, {seconds:.1f} s")

  rows = []
  for label, r in results.items():
    r["median_peak_rss_gib"] = reporting.median(r["peak_rss_bytes"]) / GIB
    r["median_seconds"] = reporting.median(r["seconds"])
    rows.append([label, "-" if not r["tile"] else r["tile"],
                 f"{r['median_peak_rss_gib']:.2f}", f"{r['median_seconds']:.1f}"])
  tiled = {label: r["median_peak_rss_gib"] for label, r in results.items() if r["tile"]}
  met = max(tiled.values()) <= TARGET_TILED_GIB
  print(f"\ntools/stylize.py with a .keras inception w16 model, each run in a fresh process; "
        f"medians of {s['runs']} runs.\n")
  print(reporting.markdown_table(["image", "tile", "peak RSS (GiB)", "seconds (process)"],
                                 rows))
  print(f"\nTiled 4K peak RSS: {', '.join(f'{k} {v:.2f} GiB' for k, v in tiled.items())} "
        f"(target <= {TARGET_TILED_GIB:.0f} GiB: {'met' if met else 'NOT met'}).")
  reporting.write_json(os.path.join(out_dir, "results.json"), dict(
      settings=dict(runs=s["runs"]), quick=_QUICK.value, machine=machine,
      target_tiled_gib=TARGET_TILED_GIB, target_met=met, results=results))
  print(f"wrote {out_dir}")


if __name__ == "__main__":
  app.run(main)
