"""What a model path holds, told without TensorFlow: its kind, by name and first bytes, and a
multi-style model's style names (a .keras file's config, a .tflite file's metadata).

The tools check `--model` and `--style` with it before TensorFlow's start (5-8 s here): a
photo given as the model, or no --style for a multi-style one, is refused at once.
stylizers.load_stylizer still checks everything when it loads the model.
"""

import json
import os
import zipfile
from typing import Optional, Tuple

from fastchi_tf.light import export_names
from fastchi_tf.light import styles

SAVED_MODEL_FILE = export_names.SAVED_MODEL_FILE
TFLITE_MAGIC = b"TFL3"  # a TFLite flatbuffer's file identifier, at bytes 4 to 8


class ModelFileError(ValueError):
  """A path that is not a model of ours; the message names it and what was expected."""


def kind(path: str) -> str:
  """"saved_model", "keras" or "tflite"; ModelFileError for a missing path or another file."""
  if not os.path.exists(path):
    raise ModelFileError(f"model not found: {path}")
  if os.path.isdir(path):
    if not os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
      raise ModelFileError(f"{path} is a folder but not a SavedModel (no {SAVED_MODEL_FILE})")
    return "saved_model"
  if path.endswith(".keras"):
    if not zipfile.is_zipfile(path):
      raise ModelFileError(f"{path} is not a .keras model (a .keras file is a zip archive; "
                           "this one is not)")
    return "keras"
  if path.endswith(".tflite"):
    with open(path, "rb") as f:
      head = f.read(8)
    if len(head) < 8 or head[4:8] != TFLITE_MAGIC:
      raise ModelFileError(f"{path} is not a TFLite model (no TFL3 flatbuffer header)")
    return "tflite"
  raise ModelFileError(f"unknown model format {path}: give a SavedModel folder, a .keras "
                       "file or a .tflite file")


def style_names(path: str) -> Optional[Tuple[str, ...]]:
  """The model's style names (() for a single-style one), or None where they cannot be read
  without TensorFlow (a SavedModel, a file that is not ours: loading it will say)."""
  found = kind(path)
  try:
    if found == "keras":
      with zipfile.ZipFile(path) as archive:
        return _keras_style_names(json.loads(archive.read("config.json")))
    if found == "tflite":
      from fastchi_tf.light import lite  # pylint: disable=g-import-not-at-top  (LiteRT, no TF)
      with open(path, "rb") as f:
        return lite.style_names(f.read())
  except Exception:  # noqa: BLE001  (a damaged file: load_stylizer names the problem)
    return None
  return None


def _keras_style_names(config):
  """The names in the StyleWeights layer of a .keras file's config.json (the functional
  model's "layers"), () if it has none."""
  for layer in config.get("config", {}).get("layers", []):
    if layer.get("class_name") == "StyleWeights":
      return tuple(layer["config"]["names"])
  return ()


def check(path: str, style: Optional[str] = None) -> None:
  """Raises ModelFileError (a ValueError) naming what is wrong with `path` as a model, or
  ValueError with `style` as its --style, where that can be told without TensorFlow."""
  names = style_names(path)
  if names is not None:
    styles.weights_vector(style or "", names)
