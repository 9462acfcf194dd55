"""Input speed: images/s of the readers alone, and the share of a training step spent waiting.

Command: python experiments/bench_input.py [--quick] [--out_dir DIR]
Run time on 2 CPU cores: 1-2 minutes with --quick (128 px crops, 3 runs of 6 steps per
reader), about 10 minutes (estimated) in full (256 px, 3 runs of 10 steps).
Expected result: either reader alone gives 400-600 images/s of 640 px JPEGs, some 60x what
training consumes on this CPU, and with tf.data the loop waits well under the 3% target
(about 0.3%); the sequential reader costs about 1.3% at 128 px, less at 256 px where steps
are longer. Decoding in the background leaves the step within noise (a few %) of the step
with batches already in memory.
Writes results.json to experiments/results/bench_input/.
"""

import os

from absl import app

from experiments import cli
from experiments import input_timing
from experiments import reporting

NAME = "bench_input"
FULL = dict(image_size=256, batch_size=4, runs=3, steps=10, reader_batches=50)
QUICK = dict(image_size=128, batch_size=4, runs=3, steps=6, reader_batches=25)
TARGET_WAIT_FRACTION = 0.03  # of the loop's time, for our tf.data pipeline

_QUICK = cli.QUICK
_OUT_DIR = cli.OUT_DIR


def reader_rates(files, settings):
  """Median images/s of each reader alone over `runs` runs."""
  rates = {}
  for kind in ("sequential", "tf.data"):
    reader = input_timing.make_reader(kind, files, settings["image_size"],
                                      settings["batch_size"])
    rates[kind] = reporting.median([
        input_timing.reader_rate(reader, settings["batch_size"], settings["reader_batches"])
        for _ in range(settings["runs"])])
  return rates


def main(argv):
  del argv
  settings = QUICK if _QUICK.value else FULL
  out_dir = reporting.results_dir(NAME, _OUT_DIR.value)
  machine = reporting.machine()
  results, rates = input_timing.measure_on_photos(
      settings, input_timing.READERS, lambda files: reader_rates(files, settings))
  base_train = results["in-memory"]["summary"]["median_train_s"]
  rows = []
  for kind in input_timing.READERS:
    s = results[kind]["summary"]
    s["loop_images_per_s"] = settings["batch_size"] / s["median_iteration_s"]
    s["train_vs_in_memory"] = s["median_train_s"] / base_train
    rows.append([kind, f"{rates[kind]:.0f}" if kind in rates else "-",
                 f"{s['loop_images_per_s']:.2f}", 1e3 * s["median_wait_s"],
                 f"{100 * s['wait_fraction']:.2f}", f"{s['median_train_s']:.3f}",
                 f"{s['train_vs_in_memory']:.3f}"])
  table = reporting.markdown_table(
      ["reader", "alone (img/s)", "training loop (img/s)", "median wait (ms/batch)",
       "waiting (% of loop)", "step (s)", "step / in-memory step"], rows)
  fraction = results["tf.data"]["summary"]["wait_fraction"]
  headroom = rates["tf.data"] / results["tf.data"]["summary"]["loop_images_per_s"]
  met = fraction <= TARGET_WAIT_FRACTION
  print(f"\nTraining the inception w32 network with the HED VGG16 loss on "
        f"{settings['image_size']} px crops, batch {settings['batch_size']}; medians of "
        f"{settings['runs']} runs of {settings['steps']} steps.\n")
  print(table)
  print(f"\ntf.data: the loop waits {100 * fraction:.2f}% of its time (target <= "
        f"{100 * TARGET_WAIT_FRACTION:.0f}%: {'met' if met else 'NOT met'}); the reader alone "
        f"is {headroom:.0f}x faster than training consumes.")
  reporting.write_json(os.path.join(out_dir, "results.json"), dict(
      settings=settings, quick=_QUICK.value, machine=machine, reader_images_per_s=rates,
      target_wait_fraction=TARGET_WAIT_FRACTION, wait_fraction=fraction, target_met=met,
      reader_headroom=headroom, results=results))
  print(f"wrote {out_dir}")


if __name__ == "__main__":
  app.run(main)
