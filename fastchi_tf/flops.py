"""FLOPs of a model at a given input size, counted from the traced graph's layer shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
  import keras


def count_flops(model: keras.Model, height: int, width: int, batch: int = 1) -> int:
  """FLOPs (2 x multiply-accumulates) of one forward pass on a [batch, height, width, 3] input.

  Counts convolutions and matmuls; normalization, padding and activations are ignored (a few
  percent of the total, and not what a convolution benchmark measures). A multi-style model's
  second input (the styles' weights, [batch, N]) is traced too; its mix costs no convolution.
  """
  specs = [tf.TensorSpec([batch, height, width, 3], tf.float32)]
  specs += [tf.TensorSpec([batch, *extra.shape[1:]], extra.dtype) for extra in model.inputs[1:]]
  fn = tf.function(lambda inputs: model(inputs)).get_concrete_function(
      specs if len(specs) > 1 else specs[0])
  total = 0
  for op in fn.graph.get_operations():
    if op.type == "Conv2D":
      kh, kw, cin, _ = op.inputs[1].shape
      total += 2 * np.prod(op.outputs[0].shape) * kh * kw * cin
    elif op.type == "Conv2DBackpropInput":
      # A transposed conv does the MACs of the conv it transposes: one per input position.
      kh, kw, cout, _ = op.inputs[1].shape
      total += 2 * np.prod(op.inputs[2].shape) * kh * kw * cout
    elif op.type == "MatMul":
      m, k = op.inputs[0].shape
      total += 2 * m * k * op.outputs[0].shape[-1]
  return int(total)
