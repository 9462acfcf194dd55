"""Stylizing photos with a loaded model: what a photo needs around the network.

`stylize_image`, `stylize_batch` and `stylize_files` take a `Stylizer` (fastchi_tf.stylizers,
which loads the SavedModel, .keras and .tflite backends) and add downscaling, tiling of
large images, enlarging of small ones, colour preservation and the alpha channel; reading
and writing the files is fastchi_tf.light.image_io's. No TensorFlow here: a .tflite model
runs on LiteRT alone.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from fastchi_tf import stylizers
from fastchi_tf import tiling
from fastchi_tf.light.image_io import StylizeError
from fastchi_tf.light.image_io import check_extension
from fastchi_tf.light.image_io import read_image_alpha
from fastchi_tf.light.image_io import write_image
from fastchi_tf.stylizers import Stylizer
# The experiments (experiments/lib, which a training run uses, and others being moved) still
# load their models by these names here; new code imports them from fastchi_tf.stylizers.
from fastchi_tf.stylizers import KerasStylizer  # noqa: F401
from fastchi_tf.stylizers import load_stylizer  # noqa: F401
from fastchi_tf.stylizers import SavedModelStylizer  # noqa: F401

# Untiled inputs above this many pixels are refused (4096 x 4096; 4K UHD fits below it).
MAX_UNTILED_PIXELS = 4096 * 4096
# Above this many pixels images are tiled automatically when the model allows it (see
# Stylizer.supports_tiling); the memory this saves is in experiments/results/bench_memory.
AUTO_TILE_PIXELS = 2048 * 2048
AUTO_TILE = 512
# Instance normalization works at a quarter of the input's resolution: a 24x16 thumbnail
# leaves it 6x4 pixels per channel and the output is noise. Images whose shorter side is
# below this are rendered enlarged to it and brought back to their exact size
# (docs/small_images.jpg: input, as is, enlarged, the full photo stylized and shrunk).
MIN_RENDER_SIDE = 256


def _resize(image, size):
  """uint8 [h, w, c] to (h, w) with Lanczos (which filters properly when shrinking)."""
  h, w = size
  return np.asarray(Image.fromarray(image).resize((w, h), Image.LANCZOS))


def downscale(image: np.ndarray, max_size: Optional[int]) -> np.ndarray:
  """Shrinks so the longer side is at most `max_size` (never enlarges)."""
  return tiling.shrink(image, max_size) if max_size else image


def render_size(shape: Sequence[int]) -> Optional[Tuple[int, int]]:
  """(h, w) to render an image of `shape` at when it is too small for the network, or None."""
  h, w = shape[:2]
  if min(h, w) >= MIN_RENDER_SIDE:
    return None
  scale = MIN_RENDER_SIDE / min(h, w)
  size = (max(MIN_RENDER_SIDE, round(h * scale)), max(MIN_RENDER_SIDE, round(w * scale)))
  if size[0] * size[1] > MAX_UNTILED_PIXELS:
    raise StylizeError(f"image of {w}x{h} pixels is too thin to stylize: its shorter side "
                       f"must reach {MIN_RENDER_SIDE} pixels within the size limit")
  return size


# tf.image.rgb_to_yuv's and yuv_to_rgb's matrices, here in NumPy so that the light TFLite
# path needs no TensorFlow.
_RGB_TO_YUV = np.array([[0.299, -0.14714119, 0.61497538],
                        [0.587, -0.28886916, -0.51496512],
                        [0.114, 0.43601035, -0.10001026]], np.float32)
_YUV_TO_RGB = np.array([[1, 1, 1],
                        [0, -0.394642334, 2.03206185],
                        [1.13988303, -0.58062185, 0]], np.float32)


def preserve_color(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
  """Luminance of the stylized image with the chroma of the content (YUV)."""
  c = (np.asarray(content, np.float32) / 255.0) @ _RGB_TO_YUV
  s = (np.asarray(stylized, np.float32) / 255.0) @ _RGB_TO_YUV
  rgb = np.concatenate([s[..., :1], c[..., 1:]], axis=-1) @ _YUV_TO_RGB
  return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def choose_tile(stylizer: Stylizer, shape: Sequence[int],
                tile: Optional[int] = None) -> Optional[int]:
  """The tile size to use, or None: `tile` if given (0: never tile); otherwise AUTO_TILE for
  images over AUTO_TILE_PIXELS when the stylizer can tile."""
  if tile is not None:
    # Not an image under MIN_RENDER_SIDE that, enlarged (see render_size), is small: it is
    # rendered whole, as its tiles would be thumbnails, which the network turns to noise.
    h, w = shape[:2]
    small = min(h, w) < MIN_RENDER_SIDE and (
        h * w * (MIN_RENDER_SIDE / min(h, w)) ** 2 <= AUTO_TILE_PIXELS)
    return tile if tile and not small else None
  if shape[0] * shape[1] > AUTO_TILE_PIXELS and stylizer.supports_tiling:
    return AUTO_TILE
  return None


def stylize_batch(stylizer: Stylizer, images: Sequence[np.ndarray], keep_color: bool = False,
                  tile: Optional[int] = None) -> list[np.ndarray]:
  """Stylizes uint8 images of one size in one call; large ones are tiled (see choose_tile),
  small ones rendered enlarged (see render_size)."""
  if choose_tile(stylizer, images[0].shape, tile):
    return [stylize_image(stylizer, image, keep_color=keep_color, tile=tile)
            for image in images]
  for image in images:
    _check_untiled_size(image)
  size = render_size(images[0].shape)
  batch = np.stack([_resize(i, size) for i in images] if size else images)
  out = stylizer.full_strength(batch)
  if size:
    out = [_resize(o, images[0].shape[:2]) for o in out]
  return [_finish(stylizer, i, o, keep_color) for i, o in zip(images, out)]


def _finish(stylizer, image, out, keep_color):
  """The colour preservation and then the strength blend of one output, at `image`'s size."""
  if keep_color:
    out = preserve_color(image, out)
  return stylizers.blend(image, out, stylizer.strength)


def _check_untiled_size(image):
  h, w = image.shape[:2]
  if h * w > MAX_UNTILED_PIXELS:
    raise StylizeError(f"image of {w}x{h} pixels is over the untiled limit of "
                       f"{MAX_UNTILED_PIXELS} pixels; use --tile 1024 (or --max_size)")


def stylize_image(stylizer: Stylizer, image: np.ndarray, max_size: Optional[int] = None,
                  keep_color: bool = False, tile: Optional[int] = None) -> np.ndarray:
  """Stylizes one uint8 image; the output has the (possibly downscaled) input's size."""
  image = downscale(image, max_size)
  tile = choose_tile(stylizer, image.shape, tile)
  if not tile:
    return stylize_batch(stylizer, [image], keep_color, tile=0)[0]
  if not stylizer.supports_tiling:
    raise StylizeError(stylizers.TILING_NEEDS_KERAS)
  return _finish(stylizer, image, stylizer.tiled(image, tile), keep_color)


@dataclasses.dataclass
class _Pending:
  src: str
  dst: str
  image: np.ndarray
  alpha: Optional[np.ndarray]


def stylize_files(stylizer: Stylizer, jobs: Sequence[Tuple[str, str]], *,
                  max_size: Optional[int] = None, keep_color: bool = False,
                  tile: Optional[int] = None, batch_size: int = 4,
                  on_done: Optional[Callable[[int], None]] = None,
                  on_skip: Optional[Callable[[str], None]] = None) -> list[str]:
  """Stylizes (src, dst) pairs; same-size images go through the model together.

  A file that cannot be read, stylized or written is skipped: `on_skip(message)` is called
  and its source is in the returned list of failures. `on_done(n)` reports progress.
  """
  on_skip = on_skip or (lambda m: print(f"skipped: {m}", file=sys.stderr))
  failed, batch, done = [], [], 0

  def flush():
    nonlocal done
    try:
      outs = stylize_batch(stylizer, [p.image for p in batch], keep_color, tile)
    except StylizeError as e:
      on_skip(str(e))
      failed.extend(p.src for p in batch)
      outs = []
    for p, out in zip(batch, outs):
      try:
        write_image(p.dst, out, p.alpha)
      except StylizeError as e:
        on_skip(str(e))
        failed.append(p.src)
    done += len(batch)
    batch.clear()
    if on_done:
      on_done(done)

  for src, dst in jobs:
    try:
      check_extension(src, "input")
      check_extension(dst, "output")
      image, alpha = read_image_alpha(src)
      image = downscale(image, max_size)
      if alpha is not None:
        alpha = downscale(alpha, max_size)
    except StylizeError as e:
      on_skip(str(e))
      failed.append(src)
      done += 1
      if on_done:
        on_done(done)
      continue
    if batch and (batch[0].image.shape != image.shape or tile):
      flush()
    batch.append(_Pending(src, dst, image, alpha))
    if len(batch) >= batch_size or tile:
      flush()
  if batch:
    flush()
  return failed
