"""The stylizer backends: an exported model loaded as a `Stylizer`, uint8 images in and out.

`load_stylizer` opens a SavedModel folder (`SavedModelStylizer`), a .keras file
(`KerasStylizer`) or a .tflite file (`TFLiteStylizer`, on LiteRT) and checks that it is a
FastChi-TF render network; `Stylizer.set_style` chooses a multi-style model's style and the
strength. What a photo needs around the network (sizes, tiles, colour, files) is
fastchi_tf.stylize's.

TensorFlow is imported only inside the Keras and SavedModel paths: a .tflite model never
imports it (the light install).
"""

from __future__ import annotations

import os
import threading
import zipfile
from typing import TYPE_CHECKING, Optional, Tuple

import numpy as np

from fastchi_tf import tiling
from fastchi_tf.light import styles
from fastchi_tf.light.export_names import KERAS_FILE, STATISTICS, WITH_STATISTICS
from fastchi_tf.light.image_io import StylizeError

if TYPE_CHECKING:  # (annotations only: TensorFlow is imported where a model needs it)
  import keras
  import tensorflow as tf

KERAS_NEEDED = ("needs the Keras model: give a .keras file or an export folder's saved_model "
                "(with model.keras beside it)")
TILING_NEEDS_KERAS = ("tiling needs a .keras file, or a SavedModel or .tflite file exported "
                      "by this version (an older export folder's saved_model tiles with its "
                      "model.keras)")


class Stylizer:
  """One loaded model: uint8 [h, w, 3] -> uint8 [h, w, 3]. Backends below.

  `keras_model` is the Keras render network when there is one (mixed precision and float
  outputs need it); `supports_tiling` says whether the model can tile (`tiled`): a Keras
  model, or an export with the tiling signatures. `style_names` are a
  multi-style model's styles (() for a single-style one); `set_style` chooses the style or
  mix and the strength that every call then uses.
  """

  kind = ""
  keras_model: Optional[keras.Model] = None
  _graph = None  # float_model's compiled call of keras_model
  style_names: Tuple[str, ...] = ()

  def __init__(self, path: str) -> None:
    self.path = path
    self._lock = threading.Lock()
    self._fast = None  # _fast_model's copy of keras_model
    self.weights: Optional[np.ndarray] = None  # float32 [N] for a multi-style model
    self.strength = 1.0

  @property
  def supports_tiling(self) -> bool:
    return self._export_tiling() is not None or self.keras_model is not None

  def _export_tiling(self):
    """(statistics(uint8 image) -> statistics, render(uint8 piece, statistics) -> uint8) of
    an export that has the tiling signatures (STATISTICS and WITH_STATISTICS), in the
    chosen style; None for others."""
    return None

  def tiled(self, image: np.ndarray, tile: int) -> np.ndarray:
    """uint8 [h, w, 3] stylized in tiles with whole-image statistics (fastchi_tf.tiling),
    at full strength."""
    self._check_style()
    functions = self._export_tiling()
    if functions is None:
      if self.keras_model is None:
        raise StylizeError(TILING_NEEDS_KERAS)
      return tiling.stylize_tiled(self._fast_model(), image, tile, style=self.weights)
    statistics, render = functions
    found = statistics(tiling.shrink(image, tiling.statistics_size(tile)))
    return tiling.render_tiles(image, tile, lambda piece: render(piece, found))

  def _fast_model(self) -> keras.Model:
    """keras_model as the SavedModel export runs it on CPU: convolutions to fewer than 16
    channels on 2x2 blocks (render_net.use_space_to_depth, 1.2-1.3x the frames/s). As it
    is on GPU or in mixed precision (where the gain was not measured), and once per
    stylizer: video threads share it."""
    import tensorflow as tf  # TensorFlow only for a Keras or SavedModel model
    with self._lock:
      if self._fast is None:
        model = self.keras_model
        mixed = any(layer.compute_dtype != "float32" for layer in model.layers)
        if not mixed and not tf.config.list_logical_devices("GPU"):
          from fastchi_tf import render_net  # (TensorFlow: a Keras model is loaded)
          model = render_net.use_space_to_depth(model)
        self._fast = model
      return self._fast

  def set_style(self, style: str = "", strength: float = 1.0) -> "Stylizer":
    """Chooses the style (a name, an index, or a mix "a:0.5,b:0.5"; see styles.parse_choice)
    and the strength in [0, 1] of later calls. Raises StylizeError naming a bad choice."""
    if not (isinstance(strength, (int, float)) and 0.0 <= strength <= 1.0):
      raise StylizeError(f"--strength must be from 0 to 1, got {strength}")
    try:
      weights = styles.weights_vector(style or "", self.style_names)
    except ValueError as e:
      raise StylizeError(str(e)) from None
    self.weights = weights if self.style_names else None
    self.strength = float(strength)
    return self

  def _check_style(self):
    if self.style_names and self.weights is None:
      raise StylizeError(f"{self.path} has {len(self.style_names)} styles; choose one with "
                         f"--style (e.g. --style {self.style_names[0]}) or see --list_styles")

  def batch(self, images: np.ndarray) -> np.ndarray:
    """uint8 [b, h, w, 3] -> uint8 [b, h, w, 3]: one call for images of one size, in the
    chosen style, blended with the input by the strength."""
    images = np.asarray(images, np.uint8)
    return blend(images, self.full_strength(images), self.strength)

  def full_strength(self, images: np.ndarray) -> np.ndarray:
    """`batch` before the strength blend (the callers that resize blend at the input's
    size, so that strength 0 is the input exactly)."""
    self._check_style()
    return self._run(np.asarray(images, np.uint8))

  def _run(self, images: np.ndarray) -> np.ndarray:
    """The network alone, uint8 in and out, in the style of self.weights."""
    raise NotImplementedError

  def __call__(self, image: np.ndarray) -> np.ndarray:
    return self.batch(np.asarray(image, np.uint8)[None])[0]

  def model_inputs(self, images):
    """What the Keras model takes for float images [b, h, w, 3]: them, or them and the
    style weights."""
    import tensorflow as tf  # TensorFlow only for a Keras or SavedModel model
    images = tf.convert_to_tensor(images, tf.float32)
    if not self.style_names:
      return images
    self._check_style()
    return [images, tf.tile(tf.constant(self.weights)[None], [images.shape[0], 1])]

  def float_model(self, images: np.ndarray) -> tf.Tensor:
    """Float [b, h, w, 3] in [0, 255] -> float32 tensor, at full strength; needs the Keras
    model."""
    import tensorflow as tf  # TensorFlow only for a Keras or SavedModel model
    if self.keras_model is None:
      raise StylizeError(f"this model's float outputs {KERAS_NEEDED.replace('needs', 'need')}")
    if self._graph is None:
      # As a graph, whose executor frees each activation after its last use: called
      # eagerly, the network held all of them, 5.7 GB at 1920x1080 against 1.6. Traced for
      # the shapes it meets (a static batch keeps InstanceNorm's fused kernel), relaxed to
      # any shape after the second.
      model = self._fast_model()
      self._graph = tf.function(lambda inputs: model(inputs, training=False),
                                reduce_retracing=True)
    return tf.cast(self._graph(self.model_inputs(images)), tf.float32)


def blend(photos: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
  """The strength control: (1 - s) x photo + s x stylized, per pixel, rounded to uint8.

  Blending the output (not the normalization parameters) is what makes s = 0 the photo
  exactly and the change linear, so monotone, in s, and it works for every export alike;
  docs/strength.jpg shows a ramp.
  """
  if strength >= 1.0:
    return stylized
  if strength <= 0.0:
    return np.array(photos, np.uint8)
  out = (1.0 - strength) * photos.astype(np.float32) + strength * stylized.astype(np.float32)
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


class KerasStylizer(Stylizer):
  kind = "keras"

  def __init__(self, path: str, model: Optional[keras.Model] = None) -> None:
    super().__init__(path)
    self.keras_model = model if model is not None else _load_keras(path)
    from fastchi_tf import render_net  # (TensorFlow: a Keras model is loaded)
    self.style_names = render_net.style_names(self.keras_model)

  def _run(self, images: np.ndarray) -> np.ndarray:
    out = self.float_model(images).numpy()
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


class SavedModelStylizer(Stylizer):
  """An export's SavedModel. It tiles with its own signatures; one exported before they
  came tiles with its sibling model.keras, if any."""
  kind = "saved_model"

  def __init__(self, path: str) -> None:
    super().__init__(path)
    self._fn, self.style_names = _load_saved_model(path)
    signatures = self._fn._loaded.signatures  # pylint: disable=protected-access
    self._tiling = None
    if STATISTICS in signatures and WITH_STATISTICS in signatures:
      self._tiling = signatures[STATISTICS], signatures[WITH_STATISTICS]
    sibling = os.path.join(os.path.dirname(os.path.abspath(path)), KERAS_FILE)
    if os.path.isfile(sibling):
      self.keras_model = _load_keras(sibling)

  def _export_tiling(self):
    if self._tiling is None:
      return None
    import tensorflow as tf  # (a SavedModel is loaded)
    statistics, render = self._tiling

    def style():  # read at the call: the style may be chosen after this is built
      return {"style": tf.constant(self.weights)} if self.style_names else {}

    def found(image):
      return statistics(images=tf.constant(image[None]), **style())

    def rendered(piece, given):
      return render(images=tf.constant(piece[None]), **style(), **given)["stylized"][0].numpy()

    return found, rendered

  def _run(self, images: np.ndarray) -> np.ndarray:
    import tensorflow as tf  # (a SavedModel is loaded)
    kwargs = {"images": tf.constant(images)}
    if self.style_names:
      kwargs["style"] = tf.constant(self.weights)
    return self._fn(**kwargs)["stylized"].numpy()


class TFLiteStylizer(Stylizer):
  """A .tflite export. Its interpreter is resized per shape and is not thread-safe: give
  each thread its own (video.frame_functions does)."""
  kind = "tflite"

  def __init__(self, path: str, num_threads: Optional[int] = None,
               frames: bool = False) -> None:
    super().__init__(path)
    with open(path, "rb") as f:
      head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
      raise StylizeError(f"{path} is not a TFLite model (no TFL3 flatbuffer header)")
    from fastchi_tf.light import lite  # LiteRT only for a .tflite model, and no TensorFlow
    try:
      # A photo's one call runs with XNNPACK's pointer tables transient (a third less peak
      # memory); frames, many calls at one size, keep them (15-20% faster a call).
      self._fn = lite.TFLiteRunner(path, num_threads,  # (None: every core)
                                   transient=not frames)
    except Exception as e:  # noqa: BLE001  (the interpreter raises bare RuntimeErrors)
      raise StylizeError(f"cannot load model {path}: {_first_line(e)}") from None
    details = self._fn.interpreter.get_input_details()
    outputs = self._fn.interpreter.get_output_details()
    image = self._fn.image_input
    if not (image is not None and len(details) in (1, 2) and len(outputs) == 1
            and image["dtype"] == np.uint8 and outputs[0]["dtype"] == np.uint8
            and len(image["shape"]) == 4 and image["shape"][-1] == 3):
      found = ", ".join(f"{d['dtype'].__name__} {[int(s) for s in d['shape']]}"
                        for d in details)
      raise StylizeError(f"{path} is a TFLite model but not a FastChi-TF export: it takes "
                         f"{found}; expected one uint8 image [1, h, w, 3] (and style weights)")
    self.style_names = self._fn.style_names

  def _run(self, images: np.ndarray) -> np.ndarray:
    return np.stack([self._fn(image, self.weights) for image in images])

  def _export_tiling(self):
    if not self._fn.tiles:
      return None
    return (lambda image: self._fn.statistics(image, self.weights),
            lambda piece, found: self._fn.with_statistics(piece, found, self.weights))


def _first_line(error):
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__


def _walk_layers(model):
  stack = list(getattr(model, "layers", []))
  while stack:
    layer = stack.pop(0)
    yield layer
    stack.extend(getattr(layer, "layers", []))


def _load_keras(path):
  """Loads a .keras file (safe_mode) and checks it is a render network."""
  import keras  # TensorFlow only when a .keras model is asked for
  from fastchi_tf import layers  # (registers the layers .keras files name)
  if not zipfile.is_zipfile(path):
    raise StylizeError(f"{path} is not a .keras model (a .keras file is a zip archive; "
                       "this one is not)")
  try:
    model = keras.saving.load_model(path, safe_mode=True)
  except Exception as e:  # noqa: BLE001  (Keras raises many kinds; all mean "not loadable")
    raise StylizeError(f"cannot load model {path}: {_first_line(e)}") from None
  inputs, outputs = getattr(model, "inputs", None) or [], getattr(model, "outputs", None) or []
  shapes = [tuple(t.shape) for t in inputs], [tuple(t.shape) for t in outputs]
  image = (None, None, None, 3)
  from fastchi_tf import render_net  # (TensorFlow: as keras above)
  names = render_net.style_names(model)
  expected = [image] + ([(None, len(names))] if names else [])
  if (shapes != (expected, [image])
      or not any(isinstance(l, layers.StyleAffine) for l in _walk_layers(model))):
    raise StylizeError(f"{path} is a Keras model but not a FastChi-TF render network "
                       f"(inputs {shapes[0]}, outputs {shapes[1]}); expected images "
                       "[batch, h, w, 3] in and out, with instance normalization")
  return model


def _load_saved_model(path):
  """The serving function of a FastChi-TF SavedModel export, checked."""
  import tensorflow as tf  # TensorFlow only when a SavedModel is asked for
  if not os.path.isfile(os.path.join(path, "saved_model.pb")):
    raise StylizeError(f"{path} is a folder but not a SavedModel (no saved_model.pb)")
  try:
    loaded = tf.saved_model.load(path)
  except Exception as e:  # noqa: BLE001
    raise StylizeError(f"cannot load model {path}: {_first_line(e)}") from None
  fn = loaded.signatures.get("serving_default")
  if fn is None:
    raise StylizeError(f"{path} is a SavedModel without a serving_default signature; "
                       "expected a FastChi-TF export")
  specs = fn.structured_input_signature[1]
  spec, outs = specs.get("images"), fn.structured_outputs
  names = ()
  if "style_names" in loaded.signatures:
    names = tuple(n.decode() for n in
                  loaded.signatures["style_names"]()["names"].numpy().tolist())
  style = specs.get("style")
  ok = (len(specs) == 1 + bool(names) and spec is not None and spec.dtype == tf.uint8
        and spec.shape.rank == 4 and spec.shape[-1] == 3 and set(outs) == {"stylized"}
        and (not names or (style is not None and style.shape.as_list() == [len(names)])))
  if not ok:
    takes = {k: f"{v.dtype.name} {v.shape}" for k, v in specs.items()}
    raise StylizeError(f"{path} is a SavedModel but not a FastChi-TF export: serving_default "
                       f"takes {takes} and returns {sorted(outs)}; expected uint8 'images' "
                       "[batch, h, w, 3] (and float32 'style' [styles]) -> 'stylized'")
  # Keep the variables alive as long as the function.
  fn._loaded = loaded  # pylint: disable=protected-access
  return fn, names


def load_stylizer(path: str, mixed_precision: bool = False,
                  num_threads: Optional[int] = None, frames: bool = False) -> Stylizer:
  """Opens a SavedModel folder, .keras file or .tflite file as a Stylizer; `num_threads`
  sizes a .tflite model's interpreter (None: every core), `frames` readies it for many
  calls at one size (video) rather than the least memory (lite.TFLiteRunner's transient)."""
  if not os.path.exists(path):
    raise StylizeError(f"model not found: {path}")
  if os.path.isdir(path):
    stylizer = SavedModelStylizer(path)
  elif path.endswith(".keras"):
    stylizer = KerasStylizer(path)
  elif path.endswith(".tflite"):
    stylizer = TFLiteStylizer(path, num_threads, frames)
  else:
    raise StylizeError(f"unknown model format {path}: give a SavedModel folder, a .keras "
                       "file or a .tflite file")
  if mixed_precision:
    if stylizer.keras_model is None:
      raise StylizeError(f"--mixed_precision {KERAS_NEEDED}")
    from fastchi_tf import precision  # (TensorFlow: a Keras model is loaded)
    stylizer = KerasStylizer(path, precision.mixed_copy(stylizer.keras_model))
  return stylizer
