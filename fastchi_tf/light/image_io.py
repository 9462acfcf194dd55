"""Reading and writing images: EXIF orientation, alpha, 16-bit, atomic writes, one-line errors.

No TensorFlow: the light path (a .tflite model on LiteRT, fastchi serve) reads and writes
photos with it.
"""

import os
import warnings
from typing import Optional, Tuple

import numpy as np
from PIL import Image
from PIL import ImageOps

from fastchi_tf.light import io_utils

IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP"}
ALPHA_FORMATS = ("PNG", "WEBP")  # formats that keep transparency
# Lossy formats at quality 95: Pillow's default 75 visibly softens fine brush strokes.
SAVE_OPTIONS = {"JPEG": dict(quality=95), "WEBP": dict(quality=95)}


class StylizeError(ValueError):
  """An input, output or model that cannot be used; the message names it."""


def check_extension(path: str, role: str) -> str:
  ext = os.path.splitext(path)[1].lower()
  if ext not in IMAGE_FORMATS:
    raise StylizeError(f"unsupported {role} extension {ext or '(none)'!r} in {path}; "
                       f"use one of {', '.join(IMAGE_FORMATS)}")
  return ext


def open_image(source) -> Image.Image:
  """Image.open(source) for a path or file object, without Pillow's size warning: large
  photos are what tiling is for. From 179 megapixels it refuses (DecompressionBombError),
  and that error is the message."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    return Image.open(source)


def read_image_alpha(path: str) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """(uint8 RGB [h, w, 3], uint8 alpha [h, w] or None), upright by its EXIF orientation.

  Reads anything PIL reads: grayscale, RGBA, palette with transparency, 16-bit.
  """
  if not os.path.exists(path):
    raise StylizeError(f"input image not found: {path}")
  if os.path.isdir(path):
    raise StylizeError(f"input {path} is a folder; give an image file")
  try:
    with open_image(path) as image:
      return image_arrays(image)
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise StylizeError(f"cannot read image {path}: {e}") from None


def image_arrays(image: Image.Image) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """read_image_alpha's arrays of an opened image (a file's, or an upload's in memory)."""
  image.load()
  image = ImageOps.exif_transpose(image)  # phones store photos sideways plus a tag
  if image.mode in ("I;16", "I;16B", "I"):  # 16-bit grayscale: keep the top byte
    array = (np.asarray(image, np.uint32) >> 8).astype(np.uint8)
    return np.repeat(array[..., None], 3, axis=2), None
  if "A" in image.mode or "transparency" in image.info:
    rgba = np.asarray(image.convert("RGBA"))
    alpha = rgba[..., 3]
    return np.ascontiguousarray(rgba[..., :3]), (None if alpha.min() == 255 else alpha)
  return np.asarray(image.convert("RGB")), None


def read_image(path: str) -> np.ndarray:
  """uint8 RGB [h, w, 3]; see read_image_alpha."""
  return read_image_alpha(path)[0]


def write_image(path: str, image: np.ndarray, alpha: Optional[np.ndarray] = None) -> None:
  """Writes uint8 RGB (plus alpha where the format holds it) atomically; the format comes
  from the extension. An unwritable path is a StylizeError naming it."""
  fmt = IMAGE_FORMATS[check_extension(path, "output")]
  image = np.asarray(image, np.uint8)
  if alpha is not None and fmt in ALPHA_FORMATS:
    image = np.concatenate([image, np.asarray(alpha, np.uint8)[..., None]], axis=-1)
  try:
    with io_utils.atomic_path(path) as tmp:
      Image.fromarray(image).save(tmp, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
  except OSError as e:
    raise StylizeError(f"cannot write {path}: {e.strerror or e}") from None
