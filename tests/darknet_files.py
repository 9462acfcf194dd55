"""Darknet .weights files written for tests: synthetic files with known values per array."""

import os

import keras
import numpy as np

from fastchi_tf.darknet import Header
from fastchi_tf.darknet import conv_pairs


def conv_arrays(model):
  """A `build_tiny_yolo` model's convolutions as dicts for `write_weights`."""
  arrays = []
  for conv, bn in conv_pairs(model):
    gamma, beta, mean, variance = bn.get_weights()
    arrays.append(dict(kernel=conv.get_weights()[0], beta=beta, gamma=gamma, mean=mean,
                       variance=variance))
  return arrays


def write_weights(path, convs, header=None):
  """Writes convolutions as a Darknet .weights file.

  Args:
    path: the file to write.
    convs: a `build_tiny_yolo` model, or dicts in cfg order, each with "kernel"
      [kh, kw, c, n] and either "beta", "gamma", "mean", "variance" (batch-normalized) or
      "bias" (not, e.g. a detection layer).
    header: a Header; the default is version 0.2.0 with seen = 0.
  """
  if isinstance(convs, keras.Model):
    convs = conv_arrays(convs)
  header = header or Header()
  parts = [np.array([header.major, header.minor, header.revision], "<i4"),
           np.array([header.seen], "<i8" if header.wide_seen else "<i4")]
  for conv in convs:
    vectors = ("bias",) if "bias" in conv else ("beta", "gamma", "mean", "variance")
    parts += [np.asarray(conv[k], "<f4").ravel() for k in vectors]
    parts.append(np.asarray(conv["kernel"], "<f4").transpose(3, 2, 0, 1).ravel())
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "wb") as f:
    for part in parts:
      f.write(part.tobytes())
