"""Perceptual losses (Johnson et al. 2016) as pure functions.

Every function returns per-example values of shape [batch], so a distributed training step
can sum them and divide by the global batch size. `reduction` chooses how differences are
aggregated within an example: "mean" is FastChi's expectation, "sum" Johnson's summation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
  import keras

REDUCTIONS = ("mean", "sum")
STYLE_LAYER_NORMS = ("raw", "target", "positions")
# What a style term compares: Gram matrices (Gatys et al. 2016), or the sorted projections of
# the features on fixed directions, a sliced Wasserstein distance (Heitz et al. 2021), which
# matches each projection's whole distribution rather than its second moments.
STYLE_STATISTICS = ("gram", "swd")
SWD_QUANTILES = 1024  # quantile levels kept of each target projection


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


def _check_style_args(reduction: str, layer_norm: str) -> None:
  check_reduction(reduction)
  if layer_norm not in STYLE_LAYER_NORMS:
    raise ValueError(f"unknown style layer_norm {layer_norm!r}; choose one of "
                     f"{STYLE_LAYER_NORMS}")


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
      "positions": Gram matrices divided by h * w only (Magenta's, whose weights Ghiasi
      et al.'s arbitrary-style network was trained with): each raw term times c**2.

  Returns:
    (total [batch], {layer: [batch]}).
  """
  _check_style_args(reduction, layer_norm)
  terms = {}
  for layer, target in target_grams.items():
    target = _float32(target)
    diff = gram_matrix(generated[layer]) - target
    terms[layer] = _per_example(tf.square(diff), reduction)
    if layer_norm == "target":
      scale = target if target.shape.rank == 3 else target[tf.newaxis]
      terms[layer] /= _per_example(tf.square(scale), reduction) + 1e-12
    elif layer_norm == "positions":
      terms[layer] *= float(target.shape[-1]) ** 2
  return tf.add_n(list(terms.values())), terms


def check_statistic(statistic: str) -> None:
  """Raises ValueError unless `statistic` is one of STYLE_STATISTICS."""
  if statistic not in STYLE_STATISTICS:
    raise ValueError(f"unknown style statistic {statistic!r}; choose one of "
                     f"{STYLE_STATISTICS}")


def swd_directions(channels: int, seed: int = 0) -> np.ndarray:
  """A random rotation [channels, channels] (columns: unit directions), fixed by `seed`."""
  rng = np.random.default_rng(seed + channels)
  q, r = np.linalg.qr(rng.normal(size=(channels, channels)))
  return (q * np.sign(np.diag(r))).astype(np.float32)


def _interpolated(quantiles, count):
  """[b, Q, k] sorted values -> [b, count, k] at the levels (i + 0.5) / count."""
  levels = tf.shape(quantiles)[1]
  q = tf.cast(levels, tf.float32)
  at = (tf.range(count, dtype=tf.float32) + 0.5) / tf.cast(count, tf.float32) * q - 0.5
  at = tf.clip_by_value(at, 0.0, q - 1.0)
  low = tf.cast(tf.floor(at), tf.int32)
  high = tf.minimum(low + 1, levels - 1)
  frac = (at - tf.cast(low, tf.float32))[tf.newaxis, :, tf.newaxis]
  return (tf.gather(quantiles, low, axis=1) * (1.0 - frac) +
          tf.gather(quantiles, high, axis=1) * frac)


def swd_target(features: tf.Tensor, seed: int = 0, quantiles: int = SWD_QUANTILES
               ) -> tf.Tensor:
  """One style image's [1, h, w, c] features -> its sliced-Wasserstein target [c + Q, c]:
  the directions (`swd_directions`), then the projections' values at Q quantile levels.

  One tensor per layer, so several styles' targets stack and gather like Gram matrices."""
  features = _float32(features)
  c = features.shape[-1]
  directions = tf.constant(swd_directions(c, seed))
  projected = tf.sort(tf.reshape(features, [1, -1, c]) @ directions, axis=1)
  return tf.concat([directions, _interpolated(projected, quantiles)[0]], axis=0)


def sliced_wasserstein_loss(generated: Mapping[str, tf.Tensor],
                            targets: Mapping[str, tf.Tensor], reduction: str = "mean",
                            layer_norm: str = "raw"
                            ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """Squared differences of sorted projections (a sliced Wasserstein distance), by layer.

  Args:
    generated: {layer: [batch, h, w, c]} features of the rendered images.
    targets: {layer: [c + Q, c] or [batch, c + Q, c]} from `swd_target`.
    reduction: "mean" or "sum" over positions and directions.
    layer_norm: "raw", or "target": each layer's term divided by the same reduction of the
      target projections' squares (as `style_loss`'s).

  Returns:
    (total [batch], {layer: [batch]}).
  """
  _check_style_args(reduction, layer_norm)
  if layer_norm == "positions":
    raise ValueError("style layer_norm 'positions' rescales Gram matrices; sorted "
                     "projections are not normalized by channels: use raw or target")
  terms = {}
  for layer, target in targets.items():
    target = _float32(target)
    features = _float32(generated[layer])
    c = features.shape[-1]
    batch = tf.shape(features)[0]
    if target.shape.rank == 2:
      target = tf.broadcast_to(target[tf.newaxis], tf.concat([[batch], tf.shape(target)], 0))
    directions, quantiles = target[:, :c], target[:, c:]
    projected = tf.sort(tf.reshape(features, [batch, -1, c]) @ directions, axis=1)
    wanted = _interpolated(quantiles, tf.shape(projected)[1])
    terms[layer] = _per_example(tf.square(projected - wanted), reduction)
    if layer_norm == "target":
      terms[layer] /= _per_example(tf.square(wanted), reduction) + 1e-12
  return tf.add_n(list(terms.values())), terms


def style_comparison(statistic: str):
  """The style term of `statistic`: `style_loss` ("gram") or `sliced_wasserstein_loss`."""
  check_statistic(statistic)
  return style_loss if statistic == "gram" else sliced_wasserstein_loss


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
                    reduction: str = "mean", style_layer_norm: str = "raw",
                    style_statistic: str = "gram"
                    ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
  """alpha * content + beta * style + gamma * TV, FastChi's equation (1).

  Args:
    generated_features: {layer: features} of the rendered images.
    content_features: {layer: features} of the content images (only content layers used).
    style_grams: {layer: target} style targets (see `style_targets`): Gram matrices, or
      with style_statistic "swd" `swd_target`s.
    images: the rendered images, for the total-variation term.
    content_layers: which layers of the feature dicts carry the content loss.
    content_weight, style_weight, tv_weight: alpha, beta, gamma.
    reduction: "mean" or "sum".
    style_layer_norm: `style_loss`'s layer_norm.
    style_statistic: "gram" (`style_loss`) or "swd" (`sliced_wasserstein_loss`).

  Returns:
    (total [batch], {"content", "style", "tv", "style/<layer>": [batch]}), unweighted terms.
  """
  content = tf.add_n([content_loss(generated_features[l], content_features[l], reduction)
                      for l in content_layers])
  style, per_layer = style_comparison(style_statistic)(
      generated_features, style_grams, reduction, style_layer_norm)
  tv = total_variation_loss(images, reduction)
  total = content_weight * content + style_weight * style + tv_weight * tv
  terms = {"content": content, "style": style, "tv": tv}
  terms.update({f"style/{layer}": value for layer, value in per_layer.items()})
  return total, terms


def style_targets(loss_net: keras.Model, style_image: np.ndarray | tf.Tensor,
                  style_size: Optional[int] = None, statistic: str = "gram"
                  ) -> Dict[str, tf.Tensor]:
  """Gram matrices {layer: [c, c]} of one style image, computed once before training (with
  statistic "swd", its `swd_target`s).

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
  check_statistic(statistic)
  features = loss_net(image[tf.newaxis])
  if statistic == "swd":
    return {layer: swd_target(features[layer]) for layer in loss_net.style_layers}
  return {layer: gram_matrix(features[layer])[0] for layer in loss_net.style_layers}
