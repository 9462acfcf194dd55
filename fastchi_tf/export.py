"""Exports a trained render network: SavedModel (uint8 serving signature), .keras, TFLite."""

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Callable, Dict, Optional

import keras
import numpy as np
import tensorflow as tf

from fastchi_tf import config as config_lib
from fastchi_tf import io_utils
from fastchi_tf.lite import TFLiteRunner
from fastchi_tf.render_net import build_render_net

SAVED_MODEL = "saved_model"
KERAS_FILE = "model.keras"
TFLITE_FILES = {"float32": "model_float32.tflite", "float16": "model_float16.tflite"}


class ExportError(ValueError):
  """A model that cannot be exported or loaded."""


def restore_render_net(model_dir: str) -> keras.Model:
  """Builds the run's render network from config.json and loads its latest checkpoint."""
  config_path = os.path.join(model_dir, "config.json")
  if not os.path.exists(config_path):
    raise ExportError(f"{model_dir} is not a training run (no config.json)")
  with open(config_path) as f:
    cfg = config_lib.TrainConfig.from_dict(json.load(f))
  latest = tf.train.latest_checkpoint(model_dir)
  if not latest:
    raise ExportError(f"{model_dir} has no checkpoint yet")
  model = build_render_net(**dataclasses.asdict(cfg.render))
  restored = tf.train.Checkpoint(model=model).restore(latest).expect_partial()
  restored.assert_existing_objects_matched()
  return model


def uint8_serving_fn(model: keras.Model) -> Callable[[tf.Tensor], Dict[str, tf.Tensor]]:
  """uint8 [batch, h, w, 3] in, uint8 of the same shape out: what serving and phones use."""

  def serve(images):
    out = model(tf.cast(images, tf.float32), training=False)
    return {"stylized": tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)}

  return serve


def _atomic_dir(write, path):
  """Calls write(tmp_dir), then moves the finished folder to `path`, replacing it whole."""
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp.", dir=parent)
  try:
    write(tmp)
    os.chmod(tmp, 0o777 & ~io_utils.UMASK)  # mkdtemp makes 0700
    old = None
    if os.path.exists(path):
      old = tmp + ".old"
      os.replace(path, old)
    os.replace(tmp, path)
    if old:
      shutil.rmtree(old)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def export_saved_model(model: keras.Model, path: str) -> None:
  """A SavedModel whose `serving_default` maps uint8 images to uint8 images, any size."""
  # Keras' ExportArchive, not tf.saved_model.save on a tf.Module: with Keras 3 variables
  # the latter converts to TFLite models that compute garbage.
  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint(
      name="serving_default", fn=uint8_serving_fn(model),
      input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
  _atomic_dir(lambda tmp: archive.write_out(tmp, verbose=False), path)


def export_keras(model: keras.Model, path: str) -> None:
  with io_utils.atomic_path(path) as tmp:
    model.save(tmp)


def tflite_bytes(saved_model_dir: str, precision: str = "float32") -> bytes:
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
  if precision == "float16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  return converter.convert()


EXPORT_NAMES = frozenset({SAVED_MODEL, KERAS_FILE, *TFLITE_FILES.values()})


def check_export_dir(model_dir: str, export_dir: str) -> None:
  """Refuses an export folder that would replace the run or files that are not an export.

  An export replaces the whole folder, so that it holds exactly one model's files: a stale
  .tflite from an earlier export must not sit beside a new SavedModel.
  """
  if io_utils.is_within(model_dir, export_dir):
    raise ExportError(f"--export_dir {export_dir} holds the training run {model_dir}; "
                      "exporting there would replace the run")
  if os.path.exists(export_dir):
    if not os.path.isdir(export_dir):
      raise ExportError(f"--export_dir {export_dir} is a file, not a folder")
    others = sorted(set(os.listdir(export_dir)) - EXPORT_NAMES)
    if others:
      shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
      raise ExportError(f"--export_dir {export_dir} holds files that are not an export "
                        f"({shown}); give a new or empty folder, or an earlier export to "
                        "replace")
  try:
    io_utils.check_writable_folder(
        io_utils.existing_ancestor(os.path.dirname(os.path.abspath(export_dir))))
  except ValueError as e:
    raise ExportError(str(e)) from None



def export_all(model_dir: str, export_dir: str, tflite: bool = False,
               check_image: Optional[np.ndarray] = None) -> Dict[str, int]:
  """Writes SavedModel, .keras and (optionally) TFLite models of the run in `model_dir`.

  The folder is written whole and replaces any earlier export in `export_dir`. Each TFLite
  model is checked against the SavedModel on `check_image` (uint8 [h, w, 3]); returns
  {precision: max absolute uint8 difference}.
  """
  check_export_dir(model_dir, export_dir)
  model = restore_render_net(model_dir)
  differences = {}

  def write(folder):
    saved = os.path.join(folder, SAVED_MODEL)
    export_saved_model(model, saved)
    export_keras(model, os.path.join(folder, KERAS_FILE))
    if tflite:
      image = check_image
      if image is None:
        image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8)
      reference = tf.saved_model.load(saved).signatures["serving_default"](
          images=tf.constant(image[None]))["stylized"].numpy()[0]
      for precision, name in TFLITE_FILES.items():
        content = tflite_bytes(saved, precision)
        out = TFLiteRunner(content)(image)
        differences[precision] = int(np.abs(out.astype(int) - reference.astype(int)).max())
        with open(os.path.join(folder, name), "wb") as f:
          f.write(content)

  _atomic_dir(write, export_dir)
  return differences
