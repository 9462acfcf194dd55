"""Reading and writing images: EXIF orientation, colour profiles, alpha, 16-bit, atomic
writes, one-line errors.

No TensorFlow: the light path (a .tflite model on LiteRT, fastchi serve) reads and writes
photos with it.
"""

import io
import os
import threading
import warnings
from typing import Optional, Tuple

from absl import logging
import numpy as np
from PIL import Image
from PIL import ImageCms
from PIL import ImageOps

from fastchi_tf.light import io_utils

IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP"}
ALPHA_FORMATS = ("PNG", "WEBP")  # formats that keep transparency
# Lossy formats at quality 95: Pillow's default 75 visibly softens fine brush strokes.
# PNG at zlib level 1: Pillow's 6 took 0.23 s of a 1024x679 photo's 1.2 s end to end (the
# network 0.5), level 1 0.06 s, for files about 15% larger (experiments/bench/bench_peer).
SAVE_OPTIONS = {"JPEG": dict(quality=95), "WEBP": dict(quality=95),
                "PNG": dict(compress_level=1)}


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

  Reads anything PIL reads: grayscale, RGBA, palette with transparency, 16-bit. A photo
  with an embedded colour profile comes out in sRGB (see to_srgb).
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


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_said_lock = threading.Lock()
_said = set()  # the profiles already reported (once per process each)


def _profile_name(profile: ImageCms.ImageCmsProfile) -> str:
  try:
    return ImageCms.getProfileDescription(profile).strip() or "unnamed"
  except ImageCms.PyCMSError:
    return "unnamed"


def to_srgb(image: Image.Image) -> Image.Image:
  """`image` in sRGB, converted from its embedded ICC profile (Display P3 from phones,
  Adobe RGB from cameras) with LittleCMS; as it is without a profile or with an sRGB one.

  Read as if sRGB, such photos lose their saturation (P3) or shift in hue. The first image
  of each profile is reported at INFO level (--verbosity 0). A profile that is damaged or
  does not fit the image's mode leaves the image as it was.
  """
  icc = image.info.get("icc_profile")
  if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L", "LA", "P", "PA"):
    return image
  try:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    name = _profile_name(source)
    if name.lower().startswith("srgb"):  # already sRGB (sRGB IEC61966-2.1 and the like)
      return image
    if image.mode in ("P", "PA"):
      keeps_alpha = image.mode == "PA" or "transparency" in image.info
      image = image.convert("RGBA" if keeps_alpha else "RGB")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    converted = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
  except (ImageCms.PyCMSError, OSError, ValueError):
    return image
  if alpha is not None:
    converted.putalpha(alpha)
  with _said_lock:
    first = name not in _said
    _said.add(name)
  if first:
    logging.info("converting images with the colour profile %r to sRGB", name)
  return converted


def image_arrays(image: Image.Image) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """read_image_alpha's arrays of an opened image (a file's, or an upload's in memory)."""
  image.load()
  image = ImageOps.exif_transpose(image)  # phones store photos sideways plus a tag
  image = to_srgb(image)
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
