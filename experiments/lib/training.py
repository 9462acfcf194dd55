"""What the experiments that train share: one base configuration, offline data, run folders.

Every TrainConfig of experiments/ is `derive`d from BASE. Training runs (checkpoints,
summaries) go to a scratch folder that is not committed.
"""

import os
import shutil
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from fastchi_tf import config as config_lib
from fastchi_tf import data
from fastchi_tf import samples
from fastchi_tf import plots
from fastchi_tf import run_folder
from fastchi_tf import train_lib

# FastChi's inception render network trained with the offline (hed) VGG16 loss on 256 px
# crops, styled after scikit-image's `ihc.png`; model_dir and train_data are per run.
BASE = config_lib.named("offline")

# ../shared/data beside the repository: real data that is not in it (see its SOURCES.md).
SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "shared", "data")
BSDS = os.path.join(SHARED, "photos", "bsds500")
# ../runs beside the repository: the long training runs, kept out of it.
RUNS = os.path.join(os.path.dirname(os.path.dirname(SHARED)), "runs")

# Held out of the training photos; stylized at every snapshot.
SNAPSHOT_PHOTOS = ("coffee.png", "chelsea.png")


def derive(cfg=BASE, **changes):
  """config.replace from BASE: derive(render=dict(width=16), steps=10) is BASE with
  render.width 16 and 10 steps."""
  return config_lib.replace(cfg, **changes)


def scratch_dir(name, work_dir=None):
  """Where an experiment's training runs live (not committed): work_dir or a temp folder."""
  path = work_dir or os.path.join(tempfile.gettempdir(), "fastchi_experiments", name)
  os.makedirs(path, exist_ok=True)
  return path


def offline_photos(folder, size=256):
  """scikit-image's photos (the demo's training set) as PNGs in `folder`; returns it."""
  samples.write_train_photos(folder, size)
  return folder


def bsds_training_folder(work_dir):
  """A folder in `work_dir` of links to BSDS500 train/ and val/ (test/ stays held out), or
  None without ../shared/data."""
  if not os.path.isdir(BSDS):
    return None
  folder = os.path.join(work_dir, "photos")
  os.makedirs(folder, exist_ok=True)
  for split in ("train", "val"):
    for name in sorted(os.listdir(os.path.join(BSDS, split))):
      link = os.path.join(folder, f"{split}_{name}")
      if not os.path.lexists(link):
        os.symlink(os.path.join(BSDS, split, name), link)
  return folder


def bsds_test_photos(count, size):
  """(names, uint8 [count, size, size, 3]): `count` BSDS500 test/ photos spread over the
  sorted list, centre-cropped squares; None without ../shared/data."""
  folder = os.path.join(BSDS, "test")
  if not os.path.isdir(folder):
    return None
  names = sorted(os.listdir(folder))[::max(1, 200 // count)][:count]
  return names, np.stack([square_photo(os.path.join(folder, n), size) for n in names])


def load_photo(name, size):
  """A scikit-image photo, centre-cropped to a square and resized to size x size, uint8."""
  return square_photo(samples.skimage_path(name), size)


def square_photo(path, size):
  """The image at `path`, centre-cropped to a square and resized to size x size, uint8."""
  image = Image.open(path).convert("RGB")
  side = min(image.size)
  left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
  image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
  return np.asarray(image)


def stylized(model, photos):
  """The render network's outputs for uint8 photos [b, h, w, 3], as uint8."""
  out = model(photos.astype(np.float32), training=False).numpy()
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def stylized_in(model, photos, weights):
  """A multi-style render network's uint8 outputs for uint8 photos in style `weights` [N]."""
  weights = np.tile(np.asarray(weights, np.float32)[None], [len(photos), 1])
  out = model([photos.astype(np.float32), weights], training=False).numpy()
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def train_afresh(cfg, on_summary):
  """Trains `cfg` from scratch (its model_dir emptied first, so snapshots match steps).

  Returns the loss log ({"step", "content", "style", ...: np.array}).
  """
  if os.path.exists(cfg.model_dir):
    shutil.rmtree(cfg.model_dir)
  train_lib.train(cfg, on_summary=on_summary)
  return plots.read_loss_log(os.path.join(cfg.model_dir, run_folder.LOSS_LOG))


def loss_ends(log, steps=10, terms=("content", "style")):
  """(mean of the first `steps` losses, mean of the last) of each term."""
  return ({t: float(np.mean(log[t][:steps])) for t in terms},
          {t: float(np.mean(log[t][-steps:])) for t in terms})


def build_trainer(write_dir, image_size, batch_size, strategy=None, **changes):
  """A train_lib.Trainer of `derive(**changes)` at one crop size and batch; writes nothing."""
  cfg = derive(model_dir=write_dir, data=dict(image_size=image_size), batch_size=batch_size,
               **changes)
  style = data.read_image(cfg.data.style_image)
  return train_lib.Trainer(cfg, strategy or tf.distribute.get_strategy(), [style], write_dir)



def style_losses(trainer, photos):
  """Per style that `trainer`'s (restored) run trained: the mean style and content terms of
  its training objective (unweighted) on uint8 `photos` [b, h, w, 3], and the outputs.

  Returns ({name: {"style": s, "content": c}}, [uint8 outputs per style]); a single-style
  network is one entry named "".
  """
  from fastchi_tf import losses  # pylint: disable=g-import-not-at-top
  names = trainer.trained_names or ("",)
  photos = photos.astype(np.float32)
  features_in = trainer.loss_net(photos)
  result, outputs = {}, []
  for k, name in enumerate(names):
    out = trainer.stylize(photos, trainer.first_trained + k).numpy()
    outputs.append(np.clip(np.round(out), 0, 255).astype(np.uint8))
    features = trainer.loss_net(out)
    grams = {layer: g[k] if trainer.style_names else g
             for layer, g in trainer.style_grams.items()}
    style, _ = losses.style_comparison(trainer.cfg.loss.style_statistic)(
        features, grams, trainer.cfg.loss.reduction, trainer.cfg.loss.style_layer_norm)
    content = sum(losses.content_loss(features[l], features_in[l], trainer.cfg.loss.reduction)
                  for l in trainer.loss_net.content_layers)
    result[name] = {"style": float(np.mean(style)), "content": float(np.mean(content))}
  return result, outputs


def restored_trainer(model_dir):
  """A Trainer of the run in `model_dir` (its recorded config and trained styles),
  restored from its last checkpoint."""
  import json  # pylint: disable=g-import-not-at-top
  from fastchi_tf.light import styles as styles_lib  # pylint: disable=g-import-not-at-top
  with open(os.path.join(model_dir, "config.json")) as f:
    cfg = config_lib.TrainConfig.from_dict(json.load(f))
  files = styles_lib.style_files(cfg.data.style_image)
  trainer = train_lib.Trainer(cfg, tf.distribute.get_strategy(),
                              [data.read_image(f) for f in files], model_dir)
  trainer.restore()
  return trainer
