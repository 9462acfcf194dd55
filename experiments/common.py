"""What the experiment scripts share: offline data, run folders, results and judging outputs.

Results (PNG, JSON/CSV, report.md) go to experiments/results/<name>/ and are committed;
training runs (checkpoints, summaries) go to a scratch folder that is not.
"""

import json
import os
import tempfile

import numpy as np
import tensorflow as tf
from PIL import Image

from experiments import cli
from experiments.reporting import markdown_table  # noqa: F401  (the experiments' helpers)
from experiments.reporting import results_dir
from experiments.reporting import write_json  # noqa: F401
from fastchi_tf import demo
from fastchi_tf import io_utils
from fastchi_tf import losses

# Held out of the training photos; stylized at every snapshot.
SNAPSHOT_PHOTOS = ("coffee.png", "chelsea.png")


def scratch_dir(name, work_dir=None):
  """Where an experiment's training runs live (not committed): --work_dir or a temp folder."""
  path = work_dir or os.path.join(tempfile.gettempdir(), "fastchi_experiments", name)
  os.makedirs(path, exist_ok=True)
  return path


def offline_photos(folder, size=256):
  """scikit-image's photos (the demo's training set) as PNGs in `folder`; returns it."""
  demo.prepare_photos(folder, size)
  return folder


def load_photo(name, size):
  """A scikit-image photo, centre-cropped to a square and resized to size x size, uint8."""
  image = Image.open(demo.skimage_data(name)).convert("RGB")
  side = min(image.size)
  left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
  image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
  return np.asarray(image)


def main(name, quick, paper, run, report):
  """An experiment's main: picks its configuration from --quick, runs it (or, with
  --report_only, rereads its results.json) and writes report.md.

  `run(cfg, out_dir, work_dir, train_data)` returns the summary that `report` renders.
  """
  out_dir = results_dir(name, cli.OUT_DIR.value)
  if cli.REPORT_ONLY.value:
    summary = read_json(os.path.join(out_dir, "results.json"))
  else:
    summary = run(quick if cli.QUICK.value else paper, out_dir,
                  scratch_dir(name, cli.WORK_DIR.value), cli.TRAIN_DATA.value)
  io_utils.write_text(os.path.join(out_dir, "report.md"), report(summary))
  print(f"wrote {out_dir}/report.md and figures")


def read_json(path):
  with open(path) as f:
    return json.load(f)


class Judge:
  """One fixed yardstick for outputs of runs trained with different loss networks.

  Each run's own loss is in its own units; this measures every output with the same
  pretrained network (hed VGG16, offline): style distance to the style image (Gram matrices,
  relu1_2..relu4_3) and content distance to the photo (relu2_2 and relu3_3), both with mean
  reduction, so numbers compare across runs.
  """

  def __init__(self, style_image, style_size=256):
    from fastchi_tf import build_loss_net
    self.net = build_loss_net("vgg16", weights="hed",
                              content_layers=("relu2_2", "relu3_3"))
    self.grams = losses.style_targets(self.net, style_image, style_size)

  def __call__(self, outputs, photos):
    """Mean style and content distances of outputs [b, h, w, 3] to their photos."""
    outputs = tf.convert_to_tensor(outputs, tf.float32)
    photos = tf.convert_to_tensor(photos, tf.float32)
    generated, original = self.net(outputs), self.net(photos)
    style, _ = losses.style_loss(generated, self.grams, "mean")
    content = tf.add_n([losses.content_loss(generated[l], original[l], "mean")
                        for l in self.net.content_layers])
    return dict(style=float(tf.reduce_mean(style)), content=float(tf.reduce_mean(content)))
