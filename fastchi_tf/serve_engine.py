"""The models behind `fastchi serve`: loaded once at start, shared by concurrent requests.

LiteRT only, like every .tflite path: nothing here imports TensorFlow. Each model is opened
`workers` times, one TFLite interpreter each, and a request borrows one from its model's
pool for the whole call: an interpreter is resized per shape and holds its tensors, so it
must not be shared mid-call. `workers=1` is the same pool acting as one lock around one
interpreter; experiments/bench/bench_serve.py measures the two (see its report).

A request's bytes never touch the file system: uploads are decoded in memory, with the
pixel count checked from the header before anything is decoded (decompression bombs).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import importlib.resources
import io
import os
import queue
import threading
from typing import Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from fastchi_tf import cli
from fastchi_tf import shipped
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.light import image_io
from fastchi_tf.light import styles

# What uploads may be; others (EPS, PSD, TIFF ...) are refused before any decoding. (JPEG
# includes cameras' MPO files, which Pillow opens through its JPEG plugin.)
UPLOAD_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"),
                  "jpg": ("JPEG", "image/jpeg")}
FRAME_QUALITY = 85  # live frames: small and quick, and re-sent several times a second
THUMBNAIL_PHOTO = "thumbnail.jpg"  # in fastchi_tf/web: scikit-image's chelsea.png, CC0
THUMBNAIL_SIDE = 128


@dataclasses.dataclass(frozen=True)
class EngineConfig:
  """What the server runs and how many requests at once."""
  model: str = ""  # a .tflite file; "" for the shipped collection
  collection: str = ""  # a folder of more .tflite exports, whose styles are added
  workers: int = 2  # interpreters per model: model calls that run at once
  threads: int = 1  # LiteRT threads per interpreter
  max_pixels: int = 4096 * 4096  # larger uploads are refused (413) from their header
  max_frame_pixels: int = 1280 * 720  # live frames are small; a larger one is refused
  # Above this many pixels an image is tiled (stylize.AUTO_TILE), one such image runs at a
  # time, and its interpreter is replaced after: an interpreter's memory is ~0.9 kB per pixel
  # it last ran untiled (3.8 GB at 2048x2048), ~1.3 GB after tiling, and kept until it is
  # freed. Smaller images (photos to 1 MP, live frames) run untiled, as the CLI runs them.
  large_pixels: int = 1024 * 1024


class RequestError(ValueError):
  """A request that cannot be served; `status` is its HTTP status, the message one line."""

  def __init__(self, message: str, status: int = 400) -> None:
    super().__init__(message)
    self.status = status


@dataclasses.dataclass(frozen=True)
class Choice:
  """A parsed `style`: which model, and its style weights (None: a single-style model)."""
  model: int
  weights: Optional[np.ndarray]


class Engine:
  """Every model of the server, loaded once; `run` stylizes one decoded image."""

  def __init__(self, config: EngineConfig) -> None:
    self.config = config
    paths = [config.model or shipped_path()] + collection_models(config.collection)
    self.paths = paths
    self._pools: list[queue.Queue] = []
    self._spans: list[Tuple[int, int]] = []  # each model's styles: [start, end) of names
    self._multi: list[bool] = []  # whether each model takes style weights
    names: list[str] = []
    for path in paths:
      check_model(path)
      pool: queue.Queue = queue.Queue()
      for _ in range(config.workers):
        pool.put(self._new_stylizer(path))
      first = pool.queue[0]
      own = list(first.style_names) or [styles.style_name(path)]
      start = len(names)
      names += unique_names(own, names)
      self._spans.append((start, len(names)))
      self._multi.append(bool(first.style_names))
      self._pools.append(pool)
    self.names: Tuple[str, ...] = tuple(names)
    self._thumbnails: Optional[dict] = None
    self._thumbnail_lock = threading.Lock()
    self._large = threading.Lock()  # one large image at a time (config.large_pixels)

  def choose(self, spec: str) -> Choice:
    """`spec` as --style takes it (a name, an index or a mix), over every model's styles; a
    mix must stay within one model (one network pass)."""
    try:
      weights = styles.parse_choice(spec or "", self.names)
    except ValueError as e:
      raise RequestError(str(e).replace("--style ", "style ")) from None
    used = {i for i, (start, end) in enumerate(self._spans) if weights[start:end].any()}
    if len(used) != 1:
      found = ", ".join(os.path.basename(self.paths[i]) for i in sorted(used))
      raise RequestError(f"style {spec!r} mixes styles of different models ({found}); a mix "
                         "takes the styles of one model")
    model, = used
    start, end = self._spans[model]
    return Choice(model, weights[start:end] if self._multi[model] else None)

  def run(self, image: np.ndarray, choice: Choice, strength: float = 1.0,
          preserve_color: bool = False, max_size: Optional[int] = None) -> np.ndarray:
    """uint8 [h, w, 3] stylized as `fastchi stylize` would: stylize.stylize_image with one
    of the model's interpreters, borrowed for the call."""
    image = stylize.downscale(image, max_size)  # (as stylize_image would, first)
    large = image.shape[0] * image.shape[1] > self.config.large_pixels
    with self._large if large else contextlib.nullcontext():
      pool = self._pools[choice.model]
      stylizer = pool.get()
      try:
        # The choice computed over every model's styles, as set_style would for this model
        # alone (the other models' weights are zero, so the normalization is the same).
        stylizer.weights, stylizer.strength = choice.weights, float(strength)
        tile = stylize.AUTO_TILE if large and stylizer.supports_tiling else None
        return stylize.stylize_image(stylizer, image, keep_color=preserve_color, tile=tile)
      except stylize.StylizeError as e:
        raise RequestError(str(e)) from None
      finally:
        if large:  # its memory freed: a new interpreter (0.2 s) in its place
          try:
            stylizer = self._new_stylizer(self.paths[choice.model])
          except Exception:  # noqa: BLE001  (out of memory ...: the old one goes back)
            pass
        pool.put(stylizer)

  def _new_stylizer(self, path: str) -> stylizers.TFLiteStylizer:
    return stylizers.TFLiteStylizer(path, num_threads=self.config.threads, frames=True)

  def thumbnails(self) -> dict:
    """{style name: JPEG data URL} of a small photo in each style; drawn once, on first use."""
    with self._thumbnail_lock:
      if self._thumbnails is None:
        photo = np.asarray(Image.open(io.BytesIO(web_file(THUMBNAIL_PHOTO))).convert("RGB"))
        found = {}
        for name in self.names:
          out = self.run(photo, self.choose(name))
          small = Image.fromarray(out).resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.LANCZOS)
          found[name] = "data:image/jpeg;base64," + base64.b64encode(
              encode(np.asarray(small), None, "jpeg", quality=85)).decode()
        self._thumbnails = found
      return self._thumbnails

  def describe(self) -> dict:
    """The status line's facts: models, styles, interpreters and threads, version."""
    return {"model": os.path.basename(self.paths[0]),
            "models": [os.path.basename(p) for p in self.paths],
            "styles": list(self.names), "workers": self.config.workers,
            "threads": self.config.threads, "version": cli.version()}


def shipped_path() -> str:
  """The shipped .tflite file; StylizeError, in one line, if it is missing."""
  try:
    return shipped.path("tflite")
  except shipped.MissingError as e:
    raise stylize.StylizeError(str(e)) from None


def check_model(path: str) -> None:
  """StylizeError unless `path` is a .tflite file (what runs without TensorFlow)."""
  if not path.endswith(".tflite"):
    raise stylize.StylizeError(f"{path}: fastchi serve runs .tflite models (LiteRT, no "
                               "TensorFlow); export one with fastchi export --tflite")
  if not os.path.isfile(path):
    raise stylize.StylizeError(f"model not found: {path}")


def collection_models(folder: str) -> list[str]:
  """The .tflite files of `folder`, sorted by name ([] for no folder)."""
  if not folder:
    return []
  if not os.path.isdir(folder):
    raise stylize.StylizeError(f"--collection {folder} is not a folder")
  found = sorted(os.path.join(folder, n) for n in os.listdir(folder)
                 if n.lower().endswith(".tflite") and os.path.isfile(os.path.join(folder, n)))
  if not found:
    raise stylize.StylizeError(f"--collection {folder} holds no .tflite files")
  return found


def unique_names(new: Sequence[str], taken: Sequence[str]) -> list[str]:
  """`new` made usable in a style choice beside `taken`: ':' and ',' (the mix syntax) become
  '_', and a name already taken gets _2, _3 ..."""
  out, seen = [], set(taken)
  for name in new:
    name = name.replace(":", "_").replace(",", "_").strip() or "style"
    base, n = name, 1
    while name in seen:
      n += 1
      name = f"{base}_{n}"
    seen.add(name)
    out.append(name)
  return out


def decode(data: bytes, max_pixels: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """(uint8 RGB, alpha or None) of an uploaded image, upright by its EXIF orientation, as
  `fastchi stylize` reads files. RequestError: 400 for what is not a readable image, 413 for
  more than `max_pixels` (checked from the header, before decoding)."""
  if not data:
    raise RequestError("the image is empty")
  # (No warnings.catch_warnings here: it swaps process-wide filters, which concurrent
  # requests would undo for each other. The size check is ours; Pillow refuses past twice
  # its own limit.)
  try:
    with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as image:
      w, h = image.size
      if w * h > max_pixels:
        raise RequestError(f"image of {w}x{h} pixels is over the limit of {max_pixels} "
                           "pixels", 413)
      return image_io.image_arrays(image)
  except Image.DecompressionBombError as e:
    raise RequestError(f"image refused as a decompression bomb: {e}", 413) from None
  except Image.UnidentifiedImageError:
    raise RequestError(f"not an image, or not one of {', '.join(UPLOAD_FORMATS)}") from None
  except (OSError, SyntaxError, ValueError, EOFError) as e:
    if isinstance(e, RequestError):
      raise
    raise RequestError(f"cannot read the image: {e}") from None


def encode(image: np.ndarray, alpha: Optional[np.ndarray], fmt: str = "png",
           quality: int = 95) -> bytes:
  """PNG (with alpha if given) or JPEG bytes of uint8 RGB."""
  kind = OUTPUT_FORMATS[fmt][0]
  if alpha is not None and kind == "PNG":
    image = np.concatenate([image, alpha[..., None]], axis=-1)
  out = io.BytesIO()
  options = image_io.SAVE_OPTIONS["PNG"] if kind == "PNG" else {"quality": quality}
  Image.fromarray(np.asarray(image, np.uint8)).save(out, format=kind, **options)
  return out.getvalue()


def web_file(name: str) -> bytes:
  """A file of the page (fastchi_tf/web), read from the package."""
  return importlib.resources.files("fastchi_tf").joinpath("web", name).read_bytes()
