"""Training speed (images/s) of each render network with the VGG19 and VGG16 losses.

Command: python experiments/bench_training.py [--quick] [--out_dir DIR]
Run time on 2 CPU cores: about 2.5 minutes with --quick (128 px crops, 3 runs of 2 steps per
configuration), about 10 minutes (estimated) in full (256 px, batch 4, 5 runs of 4 steps).
Expected result: the loss network dominates a step (VGG19 runs forward and backward on twice
the batch), so the inception networks train only somewhat faster than the original one
although they cost 2.4x (w32) and 7.7x (w16) fewer FLOPs per frame, and VGG16 trains faster
than VGG19 (1.1-1.4x and about 1.1x at 128 px). About 1-2 images/s at 256 px, 5-9 at
128 px.
The batches come from memory (bench_input.py measures reading). VGG19 uses weights="random"
since ImageNet weights cannot be downloaded here: the compute is identical.
Writes results.json to experiments/results/bench_training/.
"""

import os
import tempfile
import time

from absl import app
import tensorflow as tf

from experiments import cli
from experiments import input_timing
from experiments import reporting

NAME = "bench_training"
FULL = dict(image_size=256, batch_size=4, runs=5, steps=4)
QUICK = dict(image_size=128, batch_size=4, runs=3, steps=2)
RENDER_NETS = (("original", 32, 2), ("inception", 32, 2), ("inception", 16, 2))
# VGG19 ImageNet weights need a download; random weights have the same compute.
LOSS_NETS = (("vgg19", "random"), ("vgg16", "hed"))

_QUICK = cli.QUICK
_OUT_DIR = cli.OUT_DIR


def time_steps(trainer, iterator, steps):
  """Seconds for `steps` training steps in one compiled call, as train_lib runs them."""
  start = time.perf_counter()
  trainer.run_steps(iterator, steps)
  return time.perf_counter() - start


def main(argv):
  del argv
  # Each Trainer traces its own loop once; TensorFlow would warn about "retracing".
  tf.get_logger().setLevel("ERROR")
  settings = QUICK if _QUICK.value else FULL
  size, batch = settings["image_size"], settings["batch_size"]
  out_dir = reporting.results_dir(NAME, _OUT_DIR.value)
  machine = reporting.machine()
  configs = [(variant, width, shrink, network, weights)
             for network, weights in LOSS_NETS for variant, width, shrink in RENDER_NETS]
  with tempfile.TemporaryDirectory() as tmp:
    files = input_timing.make_photo_folder(os.path.join(tmp, "photos"), count=batch)
    dataset = input_timing.make_dataset("in-memory", files, size, batch)
    trainers, iterators = {}, {}
    for config in configs:  # all built first, so that runs can interleave
      variant, width, shrink, network, weights = config
      trainers[config] = input_timing.build_trainer(
          os.path.join(tmp, "run"), size, batch, variant, width, shrink, network, weights)
      iterators[config] = iter(dataset)
      time_steps(trainers[config], iterators[config], 1)  # traces the loop
    seconds = {config: [] for config in configs}
    # Round 0 warms up: after the builds, every trainer's first round was 3-6x slower.
    for r in range(settings["runs"] + 1):
      for config in configs:  # interleaved: a load change hits every configuration
        elapsed = time_steps(trainers[config], iterators[config], settings["steps"])
        if r:
          seconds[config].append(elapsed)
      print(f"round {r}/{settings['runs']} done{' (warm-up)' if not r else ''}")

  results, rows = [], []
  for config in configs:
    variant, width, shrink, network, weights = config
    rate = reporting.median([settings["steps"] * batch / s for s in seconds[config]])
    baseline = reporting.median([settings["steps"] * batch / s
                                 for s in seconds[("original", 32, 2, network, weights)]])
    results.append(dict(render=variant, width=width, shrink=shrink if variant == "inception"
                        else None, loss_net=network, loss_weights=weights,
                        images_per_s=rate, speed_vs_original=rate / baseline,
                        seconds_per_run=seconds[config],
                        params=trainers[config].model.count_params()))
    rows.append([variant, width, shrink if variant == "inception" else "-",
                 f"{network} ({weights})", f"{trainers[config].model.count_params():,}",
                 f"{rate:.2f}", f"{rate / baseline:.2f}x"])
  print(f"\nTraining images/s at {size}x{size}, batch {batch}, batches from memory; medians "
        f"of {settings['runs']} runs of {settings['steps']} steps, configurations "
        "interleaved.\n")
  print(reporting.markdown_table(
      ["render net", "width", "k", "loss net (weights)", "parameters", "images/s",
       "vs original w32, same loss"], rows))
  print("\nVGG19 runs with weights='random' (ImageNet weights cannot be downloaded here): "
        "the same layers and FLOPs as with ImageNet weights, so the same speed.")
  reporting.write_json(os.path.join(out_dir, "results.json"), dict(
      settings=settings, quick=_QUICK.value, machine=machine, results=results,
      note="vgg19 with random weights: same compute as imagenet weights"))
  print(f"wrote {out_dir}")


if __name__ == "__main__":
  app.run(main)
