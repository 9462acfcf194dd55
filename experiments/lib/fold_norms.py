"""Turns a trained network's trunk instance norms into per-style affine layers.

A network with `trunk_norm="instance"` normalizes every residual and upsampling convolution
by the image's own statistics; one with "affine" (render_net) only scales and shifts. This
folds each trunk InstanceNorm into a StyleAffine with statistics fixed at their typical value
on calibration photos, per style (the statistics of a layer depend on the style through the
earlier layers' rows):

  gamma_k (x - mean_k) / std_k + beta_k = (gamma_k / std_k) x + (beta_k - mean_k gamma_k / std_k)

so the affine network starts where the normalized one was on typical photos, and training
goes on from there (experiments/shipped/styles.py, --recipe affine). Layers are folded in the
network's order, each calibrated on the outputs of the ones already folded, so that their
differences do not add up. The typical statistics are medians over the photos: a photo whose
droplet (docs/styles_history.md) inflates a channel's variance does not set the scale for all.
"""

from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from fastchi_tf import layers
from fastchi_tf import render_net


def _style_inputs(count, k, batch):
  return tf.constant(np.repeat(np.eye(count, dtype=np.float32)[k:k + 1], batch, 0))


def fold(normalized: keras.Model, affine: keras.Model, photos: np.ndarray,
         progress: Optional[Callable[[str], None]] = None) -> keras.Model:
  """Sets `affine`'s weights from `normalized`'s, folding the trunk norms; returns `affine`.

  Args:
    normalized: a network of render_net with instance norms in the trunk.
    affine: the same network built with trunk_norm="affine" (same names and shapes).
    photos: uint8 or float [n, h, w, 3] calibration photos (training photos, not the
      held-out ones the judges see).
    progress: called with each folded layer's name.
  """
  names = render_net.style_names(normalized)
  if tuple(names) != tuple(render_net.style_names(affine)):
    raise ValueError(f"styles differ: {names} and {render_net.style_names(affine)}")
  count = max(1, len(names))
  for layer in affine.layers:
    if layer.weights:
      layer.set_weights(normalized.get_layer(layer.name).get_weights())
  trunk = [l for l in affine.layers
           if isinstance(l, layers.StyleAffine) and not isinstance(l, layers.InstanceNorm)]
  if not trunk:
    raise ValueError("the affine network has no StyleAffine layer to fold into")
  images = tf.constant(np.asarray(photos, np.float32))
  for layer in trunk:
    source = normalized.get_layer(layer.name)
    if not isinstance(source, layers.InstanceNorm):
      raise ValueError(f"layer {layer.name} of the normalized network is not an InstanceNorm")
    # The layer's input: its first input tensor in the functional graph.
    feed = layer.input[0] if len(names) > 1 else layer.input
    probe = keras.Model(affine.inputs, feed)
    gamma, beta = (np.reshape(w, (count, -1)) for w in source.get_weights())
    new_gamma, new_beta = np.empty_like(gamma), np.empty_like(beta)
    for k in range(count):
      inputs = images if len(names) <= 1 else [images, _style_inputs(count, k, len(photos))]
      x = probe(inputs, training=False).numpy().astype(np.float64)
      mean = np.median(x.mean(axis=(1, 2)), axis=0)
      std = np.sqrt(np.median(x.var(axis=(1, 2)), axis=0) + source.epsilon)
      new_gamma[k] = gamma[k] / std
      new_beta[k] = beta[k] - mean * gamma[k] / std
    shape = layer.gamma.shape
    layer.set_weights([np.reshape(new_gamma, shape).astype(np.float32),
                       np.reshape(new_beta, shape).astype(np.float32)])
    if progress:
      progress(layer.name)
  return affine
