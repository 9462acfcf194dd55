"""Mixed precision: float16 compute with float32 variables, for GPUs with tensor cores.

On this project's CPU machines float16 is slower than float32 (no native half-precision
matrix units), so the tools accept --mixed_precision only when a GPU is present.
"""

import contextlib
from typing import Iterator

import keras
import tensorflow as tf

MIXED = "mixed_float16"


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool) -> Iterator[None]:
  """Layers built inside use float16 compute and float32 variables if `mixed_precision`."""
  previous = keras.mixed_precision.global_policy()
  if mixed_precision:
    keras.mixed_precision.set_global_policy(MIXED)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def check_available(tool: str) -> None:
  """Raises ValueError unless a GPU is present (float16 on a CPU only slows things down)."""
  if not tf.config.list_physical_devices("GPU"):
    raise ValueError(f"--mixed_precision needs a GPU; none found (on a CPU float16 runs "
                     f"slower than float32, so {tool} does not offer it there)")


def _mixed_config(config):
  """A model config with every layer's dtype policy set to mixed_float16."""
  if isinstance(config, dict):
    out = {}
    for key, value in config.items():
      if key == "dtype" and isinstance(value, dict) and value.get("class_name") == "DTypePolicy":
        value = {**value, "config": {**value["config"], "name": MIXED}}
      out[key] = _mixed_config(value)
    return out
  if isinstance(config, list):
    return [_mixed_config(v) for v in config]
  return config


def mixed_copy(model: keras.Model) -> keras.Model:
  """The same functional model and weights, computing in float16 (and returning float16)."""
  with dtype_policy(True):
    copy = keras.Model.from_config(_mixed_config(model.get_config()))
  copy.set_weights(model.get_weights())
  return copy
