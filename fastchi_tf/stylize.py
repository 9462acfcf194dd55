"""Stylizing images with an exported model: SavedModel folder, .keras file or .tflite file."""

import os

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from fastchi_tf import export
from fastchi_tf import io_utils
from fastchi_tf import layers  # noqa: F401  (registers the layers .keras files name)

IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP"}
# Untiled inputs above this many pixels are refused (4096 x 4096; 4K UHD fits below it).
MAX_UNTILED_PIXELS = 4096 * 4096
# Above this many pixels images are tiled automatically when the model allows it (a .keras
# file): untiled 3840x2160 peaked at 11.5 GiB even with the smallest network, tiled at 1.5.
AUTO_TILE_PIXELS = 2048 * 2048
AUTO_TILE = 512  # peak RSS at 4K: 1.5 GiB (tiles of 1024: 3.9 GiB), barely slower


class StylizeError(ValueError):
  """An input, output or model that cannot be used; the message names it."""


def check_extension(path, role):
  ext = os.path.splitext(path)[1].lower()
  if ext not in IMAGE_FORMATS:
    raise StylizeError(f"unsupported {role} extension {ext or '(none)'!r} in {path}; "
                       f"use one of {', '.join(IMAGE_FORMATS)}")
  return ext


def read_image(path):
  """uint8 RGB [h, w, 3] from any image PIL reads (grayscale, RGBA, palette, 16-bit)."""
  if not os.path.isfile(path):
    raise StylizeError(f"input image not found: {path}")
  try:
    with Image.open(path) as image:
      image.load()
      if image.mode in ("I;16", "I;16B", "I"):  # 16-bit grayscale: keep the top byte
        array = (np.asarray(image, np.uint32) >> 8).astype(np.uint8)
        return np.repeat(array[..., None], 3, axis=2)
      return np.asarray(image.convert("RGB"))
  except (OSError, SyntaxError, ValueError) as e:
    raise StylizeError(f"cannot read image {path}: {e}") from None


def write_image(path, image):
  """Writes uint8 RGB atomically; the format comes from the extension."""
  fmt = IMAGE_FORMATS[check_extension(path, "output")]
  with io_utils.atomic_path(path) as tmp:
    Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format=fmt)


class Stylizer:
  """Loads a model once; calling it maps uint8 [h, w, 3] to uint8 [h, w, 3]."""

  def __init__(self, path, mixed_precision=False):
    self.path = path
    self.keras_model = None
    if not os.path.exists(path):
      raise StylizeError(f"model not found: {path}")
    try:
      if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
          raise StylizeError(f"{path} is a folder but not a SavedModel (no saved_model.pb)")
        self._fn = tf.saved_model.load(path).signatures["serving_default"]
        self._kind = "saved_model"
        sibling = os.path.join(os.path.dirname(os.path.abspath(path)), export.KERAS_FILE)
        if os.path.exists(sibling):  # an export folder: the .keras file enables tiling
          self.keras_model = keras.saving.load_model(sibling, safe_mode=True)
      elif path.endswith(".keras"):
        self.keras_model = keras.saving.load_model(path, safe_mode=True)
        self._kind = "keras"
      elif path.endswith(".tflite"):
        self._fn = export.TFLiteStylizer(path)
        self._fn(np.zeros((8, 8, 3), np.uint8))  # fail now, not on the first image
        self._kind = "tflite"
      else:
        raise StylizeError(f"unknown model format {path}: give a SavedModel folder, a .keras "
                           "file or a .tflite file")
      if mixed_precision:
        if self.keras_model is None:
          raise StylizeError("--mixed_precision needs the Keras model: give a .keras file or "
                             "an export folder's saved_model (with model.keras beside it)")
        from fastchi_tf import precision  # Imported lazily: only this option needs it.
        self.keras_model = precision.mixed_copy(self.keras_model)
        self._kind = "keras"
    except StylizeError:
      raise
    except Exception as e:  # noqa: BLE001  (loaders raise many kinds; all mean "broken")
      first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      raise StylizeError(f"cannot load model {path}: {first}") from None

  def float_model(self, images):
    """Float [b, h, w, 3] in [0, 255] -> float32; needs the Keras model."""
    out = self.keras_model(tf.convert_to_tensor(images, tf.float32), training=False)
    return tf.cast(out, tf.float32)

  def __call__(self, image):
    return self.batch(np.asarray(image, np.uint8)[None])[0]

  def batch(self, images):
    """uint8 [b, h, w, 3] -> uint8 [b, h, w, 3]: one call for images of one size."""
    images = np.asarray(images, np.uint8)
    if self._kind == "tflite":  # the interpreter is resized per shape; run one by one
      return np.stack([self._fn(image) for image in images])
    if self._kind == "keras":
      out = self.float_model(images).numpy()
      return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return self._fn(images=tf.constant(images))["stylized"].numpy()


def downscale(image, max_size):
  """Shrinks so the longer side is at most `max_size` (never enlarges)."""
  h, w = image.shape[:2]
  if not max_size or max(h, w) <= max_size:
    return image
  scale = max_size / max(h, w)
  size = (max(1, round(w * scale)), max(1, round(h * scale)))
  return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def preserve_color(content, stylized):
  """Luminance of the stylized image with the chroma of the content (YUV)."""
  c = tf.image.rgb_to_yuv(tf.cast(content, tf.float32) / 255.0)
  s = tf.image.rgb_to_yuv(tf.cast(stylized, tf.float32) / 255.0)
  rgb = tf.image.yuv_to_rgb(tf.concat([s[..., :1], c[..., 1:]], axis=-1))
  return np.clip(np.round(rgb.numpy() * 255.0), 0, 255).astype(np.uint8)


def choose_tile(stylizer, shape, tile=None):
  """The tile size to use, or None: `tile` if given (0: never tile); otherwise AUTO_TILE for
  images over AUTO_TILE_PIXELS when the stylizer has the Keras model that tiling needs."""
  if tile is not None:
    return tile or None
  if shape[0] * shape[1] > AUTO_TILE_PIXELS and stylizer.keras_model is not None:
    return AUTO_TILE
  return None


def stylize_batch(stylizer, images, keep_color=False, tile=None):
  """Stylizes uint8 images of one size in one call; large ones are tiled (see choose_tile)."""
  if choose_tile(stylizer, images[0].shape, tile):
    return [stylize_image(stylizer, image, keep_color=keep_color, tile=tile)
            for image in images]
  for image in images:
    _check_untiled_size(image)
  out = stylizer.batch(np.stack(images))
  return [preserve_color(i, o) if keep_color else o for i, o in zip(images, out)]


def _check_untiled_size(image):
  h, w = image.shape[:2]
  if h * w > MAX_UNTILED_PIXELS:
    raise StylizeError(f"image of {w}x{h} pixels is over the untiled limit of "
                       f"{MAX_UNTILED_PIXELS} pixels; use --tile 1024 with a .keras model "
                       "(or --max_size)")


def stylize_image(stylizer, image, max_size=None, keep_color=False, tile=None):
  """Stylizes one uint8 image; the output has the (possibly downscaled) input's size."""
  image = downscale(image, max_size)
  tile = choose_tile(stylizer, image.shape, tile)
  if tile:
    from fastchi_tf import tiling  # Imported lazily: only tiled runs need it.
    if stylizer.keras_model is None:
      raise StylizeError("--tile needs the Keras model: give a .keras file or an export "
                         "folder's saved_model (with model.keras beside it)")
    out = tiling.stylize_tiled(stylizer.float_model, stylizer.keras_model, image, tile)
  else:
    _check_untiled_size(image)
    out = stylizer(image)
  return preserve_color(image, out) if keep_color else out
