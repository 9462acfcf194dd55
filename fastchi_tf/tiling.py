"""Tiled stylization of images too big for memory, with whole-image normalization statistics.

Instance normalization makes each tile normalize by its own statistics, so naive tiles
disagree in colour and contrast. Here a first pass on a downscaled copy records every
InstanceNorm layer's statistics; the tiles are then rendered with those statistics imposed,
each with a margin wider than the network's receptive field that is cut off afterwards.
The copy's longer side is max(2 x tile, STATS_SIZE): up to 1024 pixels the statistics are
exact, and peak memory stays bounded by the tile size and that copy.
"""

import contextlib

import numpy as np
from PIL import Image

from fastchi_tf import layers

# Johnson's network sees about 55 pixels on each side (two 9x9 convs, two stride-2 convs and
# ten 3x3 convs at quarter resolution); a 64-pixel margin covers it.
MARGIN = 64
STATS_SIZE = 1024


def _norm_layers(model):
  found = []
  stack = list(model.layers)
  while stack:
    layer = stack.pop(0)
    if isinstance(layer, layers.InstanceNorm):
      found.append(layer)
    stack.extend(getattr(layer, "layers", []))
  return found


@contextlib.contextmanager
def whole_image_statistics(model, render, image, stats_size):
  """Within the block, `model`'s InstanceNorm layers use statistics of a downscaled `image`."""
  norms = _norm_layers(model)
  h, w = image.shape[:2]
  scale = min(1.0, stats_size / max(h, w))
  small = image if scale == 1.0 else np.asarray(Image.fromarray(image).resize(
      (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS))
  try:
    for layer in norms:
      layer.record_statistics = True
    render(small[None].astype(np.float32))
    for layer in norms:
      layer.fixed_statistics = layer.recorded_statistics
      layer.record_statistics = False
    yield
  finally:
    for layer in norms:
      layer.record_statistics = False
      layer.recorded_statistics = layer.fixed_statistics = None


def stylize_tiled(render, model, image, tile, margin=MARGIN):
  """Stylizes uint8 [h, w, 3] in `tile` x `tile` pieces; returns uint8 [h, w, 3].

  Args:
    render: float [1, h, w, 3] -> float [1, h, w, 3], running `model`.
    model: the Keras render network (its InstanceNorm layers get fixed statistics).
    image: uint8 RGB.
    tile: side of the interior of each tile.
    margin: context added around each tile and cut off afterwards.
  """
  h, w = image.shape[:2]
  out = np.empty_like(image)
  with whole_image_statistics(model, render, image, stats_size=max(2 * tile, STATS_SIZE)):
    for top in range(0, h, tile):
      for left in range(0, w, tile):
        y0, x0 = max(0, top - margin), max(0, left - margin)
        y1, x1 = min(h, top + tile + margin), min(w, left + tile + margin)
        piece = np.asarray(render(image[None, y0:y1, x0:x1].astype(np.float32)))[0]
        inner = piece[top - y0:top - y0 + min(tile, h - top),
                      left - x0:left - x0 + min(tile, w - left)]
        out[top:top + tile, left:left + tile] = np.clip(np.round(inner), 0, 255)
  return out
