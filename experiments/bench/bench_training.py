"""Training speed (images/s) of each render network with the VGG19 and VGG16 losses.

The loss network runs forward and backward on twice the batch in every step, so it weighs on
the comparison of render networks whose FLOPs differ several-fold (experiments.paper.model_table).
The batches come from memory (bench_input measures reading). VGG19 uses weights="random"
since ImageNet weights cannot be downloaded here: the compute is identical.

Command: python -m experiments.bench.bench_training [--quick] [--out_dir DIR]
Run time on 2 CPU cores: about 2.5 minutes with --quick (128 px crops, 3 runs of 2 steps per
configuration), about 10 minutes (estimated) in full (256 px, batch 4, 5 runs of 4 steps).
Writes results.json and report.md to experiments/results/bench_training/.
"""

import dataclasses
import os
import tempfile
import time

from experiments.lib import input_timing
from experiments.lib import reporting
from experiments.lib import runner
from experiments.lib import training


@dataclasses.dataclass(frozen=True)
class Config:
  image_size: int = 256
  batch_size: int = 4
  runs: int = 5
  steps: int = 4  # per run, in one compiled call
  render_nets: tuple = (("original", 32, 2), ("inception", 32, 2), ("inception", 16, 2))
  # VGG19 ImageNet weights need a download; random weights have the same compute.
  loss_nets: tuple = (("vgg19", "random"), ("vgg16", "hed"))


FULL = Config()
QUICK = Config(image_size=128, runs=3, steps=2)


def time_steps(trainer, iterator, steps):
  """Seconds for `steps` training steps in one compiled call, as train_lib runs them."""
  start = time.perf_counter()
  trainer.run_steps(iterator, steps)
  return time.perf_counter() - start


def run(cfg, out_dir):
  del out_dir  # numbers only
  size, batch = cfg.image_size, cfg.batch_size
  configs = [(variant, width, shrink, network, weights)
             for network, weights in cfg.loss_nets for variant, width, shrink in cfg.render_nets]
  with tempfile.TemporaryDirectory() as tmp:
    files = input_timing.make_photo_folder(os.path.join(tmp, "photos"), count=batch)
    dataset = input_timing.make_dataset("in-memory", files, size, batch)
    trainers, iterators = {}, {}
    for config in configs:  # all built first, so that runs can interleave
      variant, width, shrink, network, weights = config
      trainers[config] = training.build_trainer(
          os.path.join(tmp, "run"), size, batch,
          render=dict(variant=variant, width=width, shrink=shrink),
          loss_net=dict(name=network, weights=weights))
      iterators[config] = iter(dataset)
      time_steps(trainers[config], iterators[config], 1)  # traces the loop
    seconds = {config: [] for config in configs}
    # Round 0 warms up: after the builds, every trainer's first round was several times slower.
    for r in range(cfg.runs + 1):
      for config in configs:  # interleaved: a load change hits every configuration
        elapsed = time_steps(trainers[config], iterators[config], cfg.steps)
        if r:
          seconds[config].append(elapsed)
      print(f"round {r}/{cfg.runs} done{' (warm-up)' if not r else ''}")

  def rate(config):
    return reporting.median([cfg.steps * batch / s for s in seconds[config]])

  results = []
  for config in configs:
    variant, width, shrink, network, weights = config
    results.append(dict(render=variant, width=width, shrink=shrink if variant == "inception"
                        else None, loss_net=network, loss_weights=weights,
                        images_per_s=rate(config),
                        speed_vs_original=rate(config) / rate(
                            (*cfg.render_nets[0], network, weights)),
                        seconds_per_run=seconds[config],
                        params=trainers[config].model.count_params()))
  return dict(results=results,
              note="vgg19 with random weights: same compute as imagenet weights")


def finding(summary):
  inception = [r["speed_vs_original"] for r in summary["results"] if r["render"] == "inception"]
  return (f"inception {min(inception):.1f}-{max(inception):.1f}x the original's images/s: "
          "the loss network dominates a step")


def report(summary, out_dir):
  del out_dir  # no figures
  cfg = summary["config"]
  rows = [[r["render"], r["width"], r["shrink"] or "-", f"{r['loss_net']} ({r['loss_weights']})",
           f"{r['params']:,}", f"{r['images_per_s']:.2f}", f"{r['speed_vs_original']:.2f}x"]
          for r in summary["results"]]
  table = reporting.markdown_table(
      ["render net", "width", "k", "loss net (weights)", "parameters", "images/s",
       "vs original w32, same loss"], rows)
  return f"""# Training speed

Training images/s at {cfg['image_size']}x{cfg['image_size']}, batch {cfg['batch_size']},
batches from memory; medians of {cfg['runs']} runs of {cfg['steps']} steps, configurations
interleaved.

{table}

VGG19 runs with weights='random' (ImageNet weights cannot be downloaded here): the same
layers and FLOPs as with ImageNet weights, so the same speed.
"""


if __name__ == "__main__":
  runner.main(__name__)
