"""FastChi's figure 4: how long training waits for each batch, sequential reader vs tf.data.

A third reader, in-memory (no reading at all), shows the floor of the measurement. FastChi's
figure 4 gives the waits of its sequential reader and of its multi-process queue (FASTCHI).

Command: python -m experiments.paper.reading_speed [--quick] [--out_dir DIR]
Run time on 2 CPU cores: 1-2.5 minutes with --quick (128 px crops, 3 runs of 6 steps per
reader; the longer when other jobs load the machine), about 12 minutes (estimated) in full
(256 px, 3 runs of 20 steps).
Writes wait_per_batch.png, results.json and report.md to
experiments/results/reading_speed/.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from experiments.lib import input_timing
from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import plots

# sequential, tf.data and in-memory, which reads nothing: its "waits" are the floor of the
# measurement on this machine.
READERS = input_timing.READERS
# FastChi's figure 4 (seconds the training loop waits per batch).
FASTCHI = {"sequential": 0.0956, "tf.data": 0.0061}


Config = input_timing.LoopConfig
FULL = Config(steps=20)
QUICK = Config(image_size=128, steps=6)


def run(cfg, out_dir):
  del out_dir  # numbers only: report draws the figure
  results, _ = input_timing.measure_on_photos(cfg, READERS)
  return dict(fastchi_wait_s=FASTCHI, results=results,
              wait_speedup=(results["sequential"]["summary"]["median_wait_s"] /
                            results["tf.data"]["summary"]["median_wait_s"]))


def plot_waits(results, path):
  """Wait per batch for each reader, log scale, with FastChi's averages for reference."""
  fig, ax = plt.subplots(figsize=(6.4, 4.4))
  for kind, color in zip(READERS, ("C0", "C1", "0.6")):
    waits = np.concatenate([r["wait"] for r in results[kind]["runs"]])
    ax.plot(np.arange(1, len(waits) + 1), waits, marker=".", lw=1, color=color,
            label=f"ours, {kind} (median {1e3 * np.median(waits):.2f} ms)")
    if kind in FASTCHI:
      ax.axhline(FASTCHI[kind], ls="--", lw=1, color=color,
                 label=f"FastChi, {'multi-process queue' if kind == 'tf.data' else kind} "
                       f"({1e3 * FASTCHI[kind]:.1f} ms)")
  ax.set_yscale("log")
  ax.set_xlabel("batch")
  ax.set_ylabel("wait for the batch (s)")
  ax.set_title("Time the training loop waits for each batch")
  ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
  fig.tight_layout()
  plots.save_figure(fig, path)


def table(summary):
  rows = []
  for kind in READERS:
    s = summary["results"][kind]["summary"]
    rows.append([kind, 1e3 * s["median_wait_s"], 1e3 * s["mean_wait_s"],
                 1e3 * FASTCHI[kind] if kind in FASTCHI else "-", s["median_iteration_s"],
                 100 * s["wait_fraction"]])
  return reporting.markdown_table(
      ["reader", "median wait (ms/batch)", "mean wait (ms/batch)", "FastChi (ms/batch)",
       "iteration (s)", "waiting (% of loop)"], rows)


def finding(summary):
  waits = {k: summary["results"][k]["summary"]["median_wait_s"] for k in FASTCHI}
  return (f"{1e3 * waits['sequential']:.1f} ms vs {1e3 * waits['tf.data']:.1f} ms per batch "
          f"(FastChi: {1e3 * FASTCHI['sequential']:.1f} vs {1e3 * FASTCHI['tf.data']:.1f} ms)")


def report(summary, out_dir):
  plot_waits(summary["results"], os.path.join(out_dir, "wait_per_batch.png"))
  results, settings = summary["results"], summary["config"]
  seq = results["sequential"]["summary"]["median_wait_s"]
  tfd = results["tf.data"]["summary"]["median_wait_s"]
  floor = results["in-memory"]["summary"]["median_wait_s"]
  fastest = min(min(r["wait"]) for r in results["tf.data"]["runs"])
  fastchi_ratio = FASTCHI["sequential"] / FASTCHI["tf.data"]
  if tfd <= 1.5 * floor:
    verdict = (f"is at the floor of the measurement: the in-memory reader, which reads "
               f"nothing at all, \"waits\" {1e3 * floor:.2f} ms too")
  else:
    verdict = (f"is {1e3 * (tfd - floor):.2f} ms above the floor of the measurement (the "
               f"in-memory reader, which reads nothing, \"waits\" {1e3 * floor:.2f} ms)")
  return f"""# Reading speed (FastChi figure 4)

Time the training loop waits for each batch of {settings['batch_size']} crops of
{settings['image_size']} px while it trains the inception render network (w32, k=2) with the
HED VGG16 loss; {settings['runs']} runs of {settings['steps']} steps per reader, interleaved;
medians over runs. Photos: COCO-sized JPEGs (640 px) from scikit-image, in the page cache.

{table(summary)}

| median wait per batch | sequential | multi-process queue / tf.data | speed-up |
|---|---|---|---|
| FastChi (figure 4) | {FASTCHI['sequential']} s | {FASTCHI['tf.data']} s | {fastchi_ratio:.1f}x |
| ours | {seq:.4f} s | {tfd:.5f} s | {seq / tfd:.1f}x (at least) |

How ours differs, and why:

- Sequential: our wait is {seq / FASTCHI['sequential']:.2f}x FastChi's ({1e3 * seq:.1f} ms
  against {1e3 * FASTCHI['sequential']:.1f} ms): the decoding of {settings['batch_size']}
  640 px JPEGs by Pillow (libjpeg-turbo) from the page cache, about
  {1e3 * seq / settings['batch_size']:.1f} ms each. FastChi read COCO from disk with
  scipy.misc's imread/imresize on hardware the paper does not name. The crop size hardly
  matters: decoding the whole file dominates.
- tf.data: our median wait ({1e3 * tfd:.2f} ms, {tfd / FASTCHI['tf.data']:.2f}x FastChi's
  {1e3 * FASTCHI['tf.data']:.1f} ms) {verdict}. That floor is the time for the compiled
  loop's threads to take a ready batch and be scheduled while other jobs load this 2-core
  machine (the fastest tf.data wait took {1e3 * fastest:.2f} ms); it varies from run to run
  with the load, and so do the occasional waits of a few ms that raise the means. tf.data
  decodes in threads of the training process and keeps finished batches in a prefetch
  buffer, so there is nothing left to wait for. FastChi's reader processes sent every batch
  through a multiprocessing queue, pickled through a pipe (1.1 MB per 224 x 400 float32
  image, its fixed input size): a copy on every step, which plausibly accounts for its
  {1e3 * FASTCHI['tf.data']:.0f} ms.
- Hence our speed-up ({seq / tfd:.1f}x against FastChi's {fastchi_ratio:.1f}x) is a lower
  bound set by the measurement's floor, not by the reader; it is smaller than FastChi's
  because our sequential reader is {FASTCHI['sequential'] / seq:.0f}x faster than theirs.
  The share of the loop spent waiting (last column) is what matters; experiments.bench.bench_input
  measures it against the 3% target, and the cost of the reader's threads competing with
  training for the two cores.

![wait per batch](wait_per_batch.png)
"""


if __name__ == "__main__":
  runner.main(__name__)
