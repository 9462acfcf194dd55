"""Tiled stylization of images too big for memory, with whole-image normalization statistics.

Instance normalization makes each tile normalize by its own statistics, so naive tiles
disagree in colour and contrast. Here a first pass on a downscaled copy computes every
InstanceNorm layer's statistics (`image_statistics`); the tiles are then rendered by a copy
of the network with those statistics built in (`with_statistics`), each with a margin wider
than the network's receptive field that is cut off afterwards. Nothing is set on the shared
model, so any number of threads can tile with it at once. The copy's longer side is
max(2 x tile, STATS_SIZE): up to 1024 pixels the statistics are exact, and peak memory stays
bounded by the tile size and that copy. Exports tile the same way through two signatures
of their own (export.STATISTICS and export.WITH_STATISTICS, with `render_tiles`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # Keras only where a Keras model is used: a .tflite model tiles without
  import keras  # TensorFlow (the light path)

# Johnson's network sees about 55 pixels on each side (two 9x9 convs, two stride-2 convs and
# ten 3x3 convs at quarter resolution): 14 + 8 per residual block; a 64-pixel margin covers
# up to 6 blocks, the most the residual_blocks setting allows.
MARGIN = 64
STATS_SIZE = 1024

Statistics = Dict[str, Tuple[np.ndarray, np.ndarray]]


def norm_layers(model) -> list:
  """The network's InstanceNorm layers, whose statistics tiling fixes."""
  from fastchi_tf import layers  # TensorFlow: Keras models only; a .tflite one tiles without
  return [l for l in model.layers if isinstance(l, layers.InstanceNorm)]


def statistics_model(model: keras.Model) -> keras.Model:
  """A model sharing `model`'s layers whose outputs are each InstanceNorm's input moments."""
  import keras  # pylint: disable=redefined-outer-name  (TensorFlow: as norm_layers)
  from fastchi_tf import layers

  class _Moments(keras.layers.Layer):
    """layers.moments as a layer: the statistics the network itself computes, accurate over
    the millions of pixels of a large statistics image (keras.ops.moments drifts there)."""

    def call(self, x):
      return layers.moments(x)

  # Each layer's input in this model's graph: a copy that shares the layers (render_net's
  # clones) calls them on tensors of its own, and `layer.input` is the first graph's.
  inputs = {node.operation.name: node.input_tensors
            for nodes in model._nodes_by_depth.values()  # pylint: disable=protected-access
            for node in nodes if isinstance(node.operation, layers.InstanceNorm)}
  outputs = {}
  for layer in norm_layers(model):
    x = inputs[layer.name][0]  # a multi-style layer's [x, style]: x
    outputs[layer.name] = _Moments(name=f"{layer.name}_moments")(x)
  return keras.Model(model.inputs if len(model.inputs) > 1 else model.input, outputs,
                     name=f"{model.name}_statistics")


def _inputs(image, style):
  """A model's inputs: the float image batch, and the style weights [1, N] if any."""
  image = image.astype(np.float32)
  return image if style is None else [image, np.asarray(style, np.float32)[None]]


def shrink(image: np.ndarray, size: int) -> np.ndarray:
  """`image` shrunk (Lanczos) so that its longer side is at most `size` pixels."""
  h, w = image.shape[:2]
  scale = min(1.0, size / max(h, w))
  if scale == 1.0:
    return image
  return np.asarray(Image.fromarray(image).resize(
      (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS))


def statistics_size(tile: int) -> int:
  """The longer side of the copy that whole-image statistics are taken on."""
  return max(2 * tile, STATS_SIZE)


def image_statistics(model: keras.Model, image: np.ndarray, size: int,
                     style: Optional[np.ndarray] = None) -> Statistics:
  """Every InstanceNorm layer's (mean, variance) on `image` shrunk to at most `size` px;
  `style` the weights [N] of a multi-style network."""
  found = statistics_model(model)(_inputs(shrink(image, size)[None], style), training=False)
  return {name: (np.asarray(m, np.float32), np.asarray(v, np.float32))
          for name, (m, v) in found.items()}


def with_statistics(model: keras.Model, statistics: Statistics) -> keras.Model:
  """A copy of `model` whose InstanceNorm layers use `statistics`; other layers are shared."""
  import keras  # pylint: disable=redefined-outer-name  (TensorFlow: as norm_layers)
  from fastchi_tf import layers
  norms = {}

  def clone(layer):
    if not isinstance(layer, layers.InstanceNorm):
      return layer  # shared: same weights, no per-call state
    norms[layer.name] = new = layers.InstanceNorm(
        epsilon=layer.epsilon, statistics=statistics[layer.name], num_styles=layer.num_styles,
        name=layer.name, dtype=layer.dtype_policy)
    return new

  copy = keras.models.clone_model(model, clone_function=clone)
  for layer in norm_layers(model):
    norms[layer.name].set_weights(layer.get_weights())
  return copy


def render_tiles(image: np.ndarray, tile: int, render: Callable[[np.ndarray], np.ndarray],
                 margin: int = MARGIN) -> np.ndarray:
  """uint8 [h, w, 3] rendered in `tile` x `tile` pieces, each with `margin` pixels of
  context that are cut off; `render` maps a uint8 piece to its stylized float or uint8
  pixels (with the whole image's statistics)."""
  h, w = image.shape[:2]
  out = np.empty_like(image)
  for top in range(0, h, tile):
    for left in range(0, w, tile):
      y0, x0 = max(0, top - margin), max(0, left - margin)
      y1, x1 = min(h, top + tile + margin), min(w, left + tile + margin)
      piece = np.asarray(render(image[y0:y1, x0:x1]), np.float32)
      inner = piece[top - y0:top - y0 + min(tile, h - top),
                    left - x0:left - x0 + min(tile, w - left)]
      out[top:top + tile, left:left + tile] = np.clip(np.round(inner), 0, 255)
  return out


def stylize_tiled(model: keras.Model, image: np.ndarray, tile: int,
                  margin: int = MARGIN, style: Optional[np.ndarray] = None) -> np.ndarray:
  """Stylizes uint8 [h, w, 3] in `tile` x `tile` pieces; returns uint8 [h, w, 3].

  Args:
    model: the Keras render network (float [b, h, w, 3] in [0, 255] in and out).
    image: uint8 RGB.
    tile: side of the interior of each tile.
    margin: context added around each tile and cut off afterwards.
    style: the style weights [N] of a multi-style network (None for a single-style one).
  """
  statistics = image_statistics(model, image, size=statistics_size(tile), style=style)
  fixed = with_statistics(model, statistics)
  return render_tiles(
      image, tile, lambda piece: fixed(_inputs(piece[None], style), training=False)[0],
      margin)
