"""Input speed: images/s of the readers alone, and the share of a training step spent waiting.

Each reader (lib/input_timing: FastChi's sequential reader, our tf.data pipeline, batches from
memory) is timed alone, then feeding real training steps of the inception w32 network with the
HED VGG16 loss. Target: with tf.data the loop waits at most 3% of its time.

Command: python -m experiments.bench.bench_input [--quick] [--out_dir DIR]
Run time on 2 CPU cores: 1-2 minutes with --quick (128 px crops, 3 runs of 6 steps per
reader), about 10 minutes (estimated) in full (256 px, 3 runs of 10 steps).
Writes results.json and report.md to experiments/results/bench_input/.
"""

import dataclasses

from experiments.lib import input_timing
from experiments.lib import reporting
from experiments.lib import runner

TARGET_WAIT_FRACTION = 0.03  # of the loop's time, for our tf.data pipeline


@dataclasses.dataclass(frozen=True)
class Config(input_timing.LoopConfig):
  reader_batches: int = 50  # per run of a reader alone


FULL = Config()
QUICK = Config(image_size=128, steps=6, reader_batches=25)


def reader_rates(files, cfg):
  """Median images/s of each reader alone over `runs` runs."""
  rates = {}
  for kind in ("sequential", "tf.data"):
    reader = input_timing.make_reader(kind, files, cfg.image_size, cfg.batch_size)
    rates[kind] = reporting.median([
        input_timing.reader_rate(reader, cfg.batch_size, cfg.reader_batches)
        for _ in range(cfg.runs)])
  return rates


def run(cfg, out_dir):
  del out_dir  # numbers only
  results, rates = input_timing.measure_on_photos(
      cfg, input_timing.READERS, lambda files: reader_rates(files, cfg))
  base_train = results["in-memory"]["summary"]["median_train_s"]
  for kind in input_timing.READERS:
    s = results[kind]["summary"]
    s["loop_images_per_s"] = cfg.batch_size / s["median_iteration_s"]
    s["train_vs_in_memory"] = s["median_train_s"] / base_train
  fraction = results["tf.data"]["summary"]["wait_fraction"]
  return dict(reader_images_per_s=rates, target_wait_fraction=TARGET_WAIT_FRACTION,
              wait_fraction=fraction, target_met=fraction <= TARGET_WAIT_FRACTION,
              reader_headroom=rates["tf.data"] / results["tf.data"]["summary"][
                  "loop_images_per_s"], results=results)


def targets(summary):
  return [(f"input wait at most {100 * summary['target_wait_fraction']:.0f}% of a training "
           "step", f"{100 * summary['wait_fraction']:.1f}%", summary["target_met"])]


def finding(summary):
  return (f"waits {100 * summary['wait_fraction']:.1f}% of the step (target at most "
          f"{100 * summary['target_wait_fraction']:.0f}%); the tf.data reader alone is "
          f"{summary['reader_headroom']:.0f}x faster than training consumes")


def report(summary, out_dir):
  del out_dir  # no figures
  cfg, rates, results = summary["config"], summary["reader_images_per_s"], summary["results"]
  rows = []
  for kind in input_timing.READERS:
    s = results[kind]["summary"]
    rows.append([kind, f"{rates[kind]:.0f}" if kind in rates else "-",
                 f"{s['loop_images_per_s']:.2f}", 1e3 * s["median_wait_s"],
                 f"{100 * s['wait_fraction']:.2f}", f"{s['median_train_s']:.3f}",
                 f"{s['train_vs_in_memory']:.3f}"])
  table = reporting.markdown_table(
      ["reader", "alone (img/s)", "training loop (img/s)", "median wait (ms/batch)",
       "waiting (% of loop)", "step (s)", "step / in-memory step"], rows)
  return f"""# Input speed

Training the inception w32 network with the HED VGG16 loss on {cfg['image_size']} px crops,
batch {cfg['batch_size']}; medians of {cfg['runs']} runs of {cfg['steps']} steps per reader.
The readers alone: medians of {cfg['runs']} runs of {cfg['reader_batches']} batches.

{table}

tf.data: the loop waits {100 * summary['wait_fraction']:.2f}% of its time (target <=
{100 * summary['target_wait_fraction']:.0f}%: {reporting.met(summary['target_met'])}); the
reader alone is {summary['reader_headroom']:.0f}x faster than training consumes.
"""


if __name__ == "__main__":
  runner.main(__name__)
