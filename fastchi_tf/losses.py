"""Perceptual losses (Johnson et al. 2016) as pure functions.

Every function returns per-example values of shape [batch], so a distributed training step
can sum them and divide by the global batch size. `reduction` chooses how differences are
aggregated within an example: "mean" is FastChi's expectation, "sum" Johnson's summation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

if TYPE_CHECKING:
  import keras
  import numpy as np

REDUCTIONS = ("mean", "sum")
STYLE_LAYER_NORMS = ("raw", "target")


def check_reduction(reduction: str) -> None:
  """Raises ValueError unless `reduction` is one of REDUCTIONS."""
  if reduction not in REDUCTIONS:
    raise ValueError(f"unknown loss reduction {reduction!r}; choose one of {REDUCTIONS}")


def _float32(x):
  # Mixed precision computes features in float16; squared differences would overflow it.
  return tf.cast(x, tf.float32)


def _per_example(x, reduction):
  axes = list(range(1, len(x.shape)))
  return tf.reduce_mean(x, axes) if reduction == "mean" else tf.reduce_sum(x, axes)


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
  """[batch, h, w, c] -> [batch, c, c] Gram matrices normalized by h * w * c."""
  features = _float32(features)
  shape = tf.shape(features)
  size = tf.cast(shape[1] * shape[2] * shape[3], tf.float32)
  return tf.einsum("bhwc,bhwd->bcd", features, features) / size


def content_loss(generated: tf.Tensor, target: tf.Tensor, reduction: str = "mean") -> tf.Tensor:
  """Squared feature difference per example: [batch, h, w, c] x 2 -> [batch]."""
  check_reduction(reduction)
  return _per_example(tf.square(_float32(generated) - _float32(target)), reduction)


def style_loss(generated: Mapping[str, tf.Tensor], target_grams: Mapping[str, tf.Tensor],
               reduction: str = "mean", layer_norm: str = "raw"
               ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """Squared Gram difference summed over layers.

  Args:
    generated: {layer: [batch, h, w, c]} features of the rendered images.
    target_grams: {layer: [c, c] or [batch, c, c]} Gram matrices of the style image.
    reduction: "mean" or "sum" over the Gram entries.
    layer_norm: "raw", or "target": each layer's term is divided by the same reduction of
      the target Gram's squares, a relative error, so that every layer counts alike. Raw
      terms scale with the fourth power of the features: with the hed VGG16, relu1_2 made
      about 90% of the style term and relu3_3 and relu4_3 (the strokes) under 0.1%.

  Returns:
    (total [batch], {layer: [batch]}).
  """
  check_reduction(reduction)
  if layer_norm not in STYLE_LAYER_NORMS:
    raise ValueError(f"unknown style layer_norm {layer_norm!r}; choose one of "
                     f"{STYLE_LAYER_NORMS}")
  terms = {}
  for layer, target in target_grams.items():
    target = _float32(target)
    diff = gram_matrix(generated[layer]) - target
    terms[layer] = _per_example(tf.square(diff), reduction)
    if layer_norm == "target":
      scale = target if target.shape.rank == 3 else target[tf.newaxis]
      terms[layer] /= _per_example(tf.square(scale), reduction) + 1e-12
  return tf.add_n(list(terms.values())), terms


def total_variation_loss(images: tf.Tensor, reduction: str = "mean") -> tf.Tensor:
  """Squared differences between neighbouring pixels, [batch, h, w, c] -> [batch]."""
  check_reduction(reduction)
  images = _float32(images)
  dy = images[:, 1:, :, :] - images[:, :-1, :, :]
  dx = images[:, :, 1:, :] - images[:, :, :-1, :]
  return _per_example(tf.square(dy), reduction) + _per_example(tf.square(dx), reduction)


def perceptual_loss(generated_features: Mapping[str, tf.Tensor],
                    content_features: Mapping[str, tf.Tensor],
                    style_grams: Mapping[str, tf.Tensor], images: tf.Tensor,
                    content_layers: Sequence[str], content_weight: float = 1.0,
                    style_weight: float = 1.0, tv_weight: float = 0.0,
                    reduction: str = "mean", style_layer_norm: str = "raw"
                    ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """alpha * content + beta * style + gamma * TV, FastChi's equation (1).

  Args:
    generated_features: {layer: features} of the rendered images.
    content_features: {layer: features} of the content images (only content layers used).
    style_grams: {layer: Gram matrix} style targets (see `style_targets`).
    images: the rendered images, for the total-variation term.
    content_layers: which layers of the feature dicts carry the content loss.
    content_weight, style_weight, tv_weight: alpha, beta, gamma.
    reduction: "mean" or "sum".
    style_layer_norm: `style_loss`'s layer_norm.

  Returns:
    (total [batch], {"content", "style", "tv", "style/<layer>": [batch]}), unweighted terms.
  """
  content = tf.add_n([content_loss(generated_features[l], content_features[l], reduction)
                      for l in content_layers])
  style, per_layer = style_loss(generated_features, style_grams, reduction, style_layer_norm)
  tv = total_variation_loss(images, reduction)
  total = content_weight * content + style_weight * style + tv_weight * tv
  terms = {"content": content, "style": style, "tv": tv}
  terms.update({f"style/{layer}": value for layer, value in per_layer.items()})
  return total, terms


def style_targets(loss_net: keras.Model, style_image: np.ndarray | tf.Tensor,
                  style_size: Optional[int] = None) -> Dict[str, tf.Tensor]:
  """Gram matrices {layer: [c, c]} of one style image, computed once before training.

  Args:
    loss_net: a model from `build_loss_net` (uses its `style_layers`).
    style_image: [h, w, 3] RGB in [0, 255].
    style_size: if given, the style image is resized so its longer side is this many pixels.
  """
  image = tf.convert_to_tensor(style_image, tf.float32)
  if style_size:
    h, w = image.shape[0], image.shape[1]
    scale = style_size / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    image = tf.image.resize(image, size, method="area" if scale < 1 else "bilinear")
  features = loss_net(image[tf.newaxis])
  return {layer: gram_matrix(features[layer])[0] for layer in loss_net.style_layers}
