"""Exports a trained render network: SavedModel (uint8 serving signature), .keras, TFLite."""

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import tempfile
from typing import Callable, Dict, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from fastchi_tf import config as config_lib
from fastchi_tf.light import io_utils
from fastchi_tf import layers
from fastchi_tf.light import lite
from fastchi_tf.light import export_names
from fastchi_tf import render_net
from fastchi_tf import tiling
from fastchi_tf.light.lite import TFLiteRunner
from fastchi_tf.render_net import build_render_net
from fastchi_tf.render_net import style_names

SAVED_MODEL = "saved_model"
KERAS_FILE = export_names.KERAS_FILE
TFLITE_FILES = export_names.TFLITE_FILES
ONNX_FILE = export_names.ONNX_FILE
ONNX_OPSET = 17


class ExportError(ValueError):
  """A model that cannot be exported or loaded."""


def restore_render_net(model_dir: str, step: Optional[int] = None) -> keras.Model:
  """Builds the run's render network from config.json and loads its latest checkpoint (or
  its checkpoint of `step`)."""
  config_path = os.path.join(model_dir, "config.json")
  if not os.path.exists(config_path):
    raise ExportError(f"{model_dir} is not a training run (no config.json)")
  with open(config_path) as f:
    cfg = config_lib.TrainConfig.from_dict(json.load(f))
  latest = tf.train.latest_checkpoint(model_dir)
  if not latest:
    raise ExportError(f"{model_dir} has no checkpoint yet")
  if step is not None:
    latest = os.path.join(model_dir, f"ckpt-{step}")
    if not tf.io.gfile.exists(latest + ".index"):
      raise ExportError(f"{model_dir} has no checkpoint of step {step}")
  model = build_render_net(**dataclasses.asdict(cfg.render))
  restored = tf.train.Checkpoint(model=model).restore(latest).expect_partial()
  restored.assert_existing_objects_matched()
  return model


def _to_uint8(out):
  return {"stylized": tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)}


def uint8_serving_fn(model: keras.Model, per_image: bool = True
                     ) -> Callable[..., Dict[str, tf.Tensor]]:
  """uint8 [batch, h, w, 3] in, uint8 of the same shape out: what serving and phones use.

  A multi-style model's function also takes float32 style weights [N], one mix for the
  whole batch (non-negative; the network divides them by their sum). per_image runs the
  network image by image (a loop), so that each InstanceNorm knows its batch and runs the
  fused batch-norm kernel (layers.InstanceNorm._fused, its own statistics up to
  layers.FUSED_MAX_PIXELS: layers.statistics_by_size), as Keras stylizing does. Without,
  one call on the batch (for converters and XLA, to which a loop is a slow or unknown one).
  """
  names = style_names(model)

  def call(images, style):
    images = tf.cast(images, tf.float32)
    if names:
      images = [images, tf.tile(style[None], [tf.shape(images)[0], 1])]
    return _to_uint8(model(images, training=False))["stylized"]

  def serve(images, style=None):
    if not per_image:
      return {"stylized": call(images, style)}
    def mapped():
      with layers.statistics_by_size():
        return tf.map_fn(lambda image: call(image[None], style)[0], images,
                         fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    # (a loop over no images cannot stack its results: an empty batch comes back as it is)
    return {"stylized": tf.cond(tf.shape(images)[0] > 0, mapped,
                                lambda: tf.zeros_like(images))}

  return serve if names else (lambda images: serve(images))


def _signature(model, batch=None):
  images = tf.TensorSpec([batch, None, None, 3], tf.uint8, name="images")
  names = style_names(model)
  if not names:
    return [images]
  return [images, tf.TensorSpec([len(names)], tf.float32, name="style")]


def write_folder(write, path):
  """Calls write(tmp_dir), then moves the finished folder to `path`, replacing it whole."""
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp.", dir=parent)
  try:
    write(tmp)
    os.chmod(tmp, 0o777 & ~io_utils.UMASK)  # mkdtemp makes 0700
    old = None
    if os.path.exists(path):
      old = tmp + ".old"
      os.replace(path, old)
    os.replace(tmp, path)
    if old:
      shutil.rmtree(old)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _write_saved_model(model: keras.Model, endpoints, path: str) -> None:
  """Writes a SavedModel to `path` of `model`'s variables and `endpoints` ({name: (fn,
  input signature)}) as its signatures, each traced once.

  Keras' ExportArchive traced each endpoint two or three times (tf.saved_model.save traces
  a tf.function again in its saving context), and its lookup-table walk over the model's
  layers traced the whole network once more: 7 traces for 3 endpoints, 16 s of a small
  network's 19 s export. Concrete functions are saved as traced. The root holds what the
  archive's does, the variables as lists (not the Keras model, whose own object graph
  converted to TFLite models that compute garbage).
  """
  root = tf.__internal__.tracking.AutoTrackable()  # (what the archive saves)
  concrete = {name: tf.function(fn, autograph=False).get_concrete_function(*signature)
              for name, (fn, signature) in endpoints.items()}
  root.variables = list(model.variables)
  root.trainable_variables = list(model.trainable_variables)
  root.non_trainable_variables = list(model.non_trainable_variables)
  # (the variables the functions read, as the archive keeps them: a copy of the network
  # for TensorFlow's kernels or LiteRT shares its weights but holds no list of them)
  root.used_variables = list({id(v): v for c in concrete.values() for v in c.variables}.values())
  for name, function in concrete.items():
    setattr(root, name, function)
  tf.saved_model.save(root, path, signatures=concrete)


def export_saved_model(model: keras.Model, path: str, space_to_depth: bool = True) -> None:
  """A SavedModel whose `serving_default` maps uint8 images to uint8 images, any size.

  A multi-style model's also takes the style weights, and a `style_names` signature (no
  inputs) returns the names in order. space_to_depth=False keeps every convolution as
  trained (slower on CPU; benchmarks compare the two).
  """
  # The copy TensorFlow's CPU kernels run fastest: convolutions to fewer than 16 channels
  # (the 9x9 one to RGB) on 2x2 blocks, 1.2-1.3x the frames/s (experiments/bench/bench_exports).
  if space_to_depth:
    model = render_net.use_space_to_depth(model)
  endpoints = {"serving_default": (uint8_serving_fn(model), _signature(model)),
               **_tiling_endpoints(model)}
  names = style_names(model)
  if names:
    endpoints["style_names"] = (lambda: {"names": tf.constant(list(names), tf.string)}, [])
  write_folder(lambda tmp: _write_saved_model(model, endpoints, tmp), path)


# The signatures that let an export render a large image in tiles with whole-image
# statistics (fastchi_tf.tiling): STATISTICS maps an image (the downscaled whole) to every
# InstanceNorm layer's input mean and variance, "<layer>_mean" and "<layer>_variance"
# ([1, 1, 1, C] each); WITH_STATISTICS renders an image (a tile) with those given.
STATISTICS, WITH_STATISTICS = export_names.STATISTICS, export_names.WITH_STATISTICS


def _tiling_endpoints(model, traced=contextlib.nullcontext, render=None):
  """{name: (fn, input signature)} of STATISTICS and WITH_STATISTICS, for one image
  [1, h, w, 3] uint8 (and a multi-style model's style weights [N]); `traced` is the
  context the network is traced in, `render` a copy of `model` (sharing its normalization
  layers) that WITH_STATISTICS runs instead."""
  render = render or model
  names, norms = style_names(model), [l.name for l in tiling.norm_layers(model)]
  moments = tiling.statistics_model(model)
  specs = _signature(model, batch=1)
  stat_specs = {}
  for layer in tiling.norm_layers(model):
    for part in ("mean", "variance"):
      key = f"{layer.name}_{part}"
      stat_specs[key] = tf.TensorSpec([1, 1, 1, layer.gamma.shape[-1]], tf.float32, name=key)

  def inputs(images, style):
    x = tf.cast(images, tf.float32)
    return x if not names else [x, style[None]]

  def statistics(images, style=None):
    with traced():
      found = moments(inputs(images, style), training=False)
    return {f"{n}_{part}": found[n][i] for n in norms
            for i, part in enumerate(("mean", "variance"))}

  def with_statistics(images, style=None, statistics=None):
    given = {n: (statistics[f"{n}_mean"], statistics[f"{n}_variance"]) for n in norms}
    with traced(), layers.given_statistics(given):
      return _to_uint8(render(inputs(images, style), training=False))

  if names:
    return {STATISTICS: (statistics, specs),
            WITH_STATISTICS: (with_statistics, specs + [stat_specs])}
  return {STATISTICS: (lambda images: statistics(images), specs),
          WITH_STATISTICS: (lambda images, statistics: with_statistics(
              images, statistics=statistics), specs + [stat_specs])}


def export_keras(model: keras.Model, path: str) -> None:
  with io_utils.atomic_path(path) as tmp:
    model.save(tmp)


# The TFLite model's 9x9 convolutions run on blocks of this many pixels a side (see
# lite_serving_fn).
LITE_BLOCK = 2


def lite_serving_fn(model: keras.Model, lite_copy: Optional[keras.Model] = None
                    ) -> Callable[..., Dict[str, tf.Tensor]]:
  """uint8_serving_fn for TFLite: one image [1, h, w, 3] whose sides are multiples of 4
  (lite.TFLiteRunner pads and crops), traced in layers.tflite_graph so that LiteRT knows
  every tensor's size before it runs and reuses their memory.

  XNNPACK, LiteRT's CPU kernels, keeps a table of k x k input pointers per output pixel for
  each convolution, all at once: the two 9x9 ones at full resolution alone took 2.7 GB at
  1920x1080. On blocks of LITE_BLOCK x LITE_BLOCK pixels (render_net.use_space_to_depth) they
  have 5x5 taps at a quarter of the pixels, 13x fewer pointers. `lite_copy` is that copy
  (_lite_copy) if the caller has made it already.
  """
  names = style_names(model)
  model = lite_copy if lite_copy is not None else _lite_copy(model)

  def serve(images, style=None):
    inputs = tf.cast(images, tf.float32)
    with layers.tflite_graph():
      return _to_uint8(model(inputs if not names else [inputs, style[None]], training=False))

  return serve


def _lite_copy(model):
  """`model` with its full-resolution 9x9 convolutions on LITE_BLOCK blocks, and no others
  (a copy made for TensorFlow's CPU kernels may have more, at sizes the TFLite graph cannot
  take: a quarter-resolution side need not be even)."""
  nine = lambda conv: conv.kernel_size == 9 and conv.strides == 1
  plain = render_net.use_space_to_depth(
      model, 1, which=lambda conv: conv.space_to_depth > 1 and not nine(conv))
  return render_net.use_space_to_depth(plain, LITE_BLOCK, which=nine)


def tflite_bytes(model: keras.Model, precision: str = "float32") -> bytes:
  """The network as a TFLite model (lite_serving_fn); a multi-style model's style names
  stored in it as metadata (lite.with_style_names)."""
  return tflite_models(model, (precision,))[precision]


def tflite_models(model: keras.Model, precisions: Sequence[str]) -> Dict[str, bytes]:
  """{precision: tflite_bytes(model, precision)}, converted from one traced SavedModel
  (tracing and writing it took 60% of a conversion)."""
  unknown = [p for p in precisions if p not in TFLITE_FILES]
  if isinstance(precisions, str) or unknown:
    raise ValueError(f"TFLite precisions are a list of {sorted(TFLITE_FILES)}, got "
                     f"{precisions!r}")
  names = style_names(model)

  # (statistics from the network itself: a copy's layers cannot be read twice, and its
  # largest image is the 1024-pixel statistics copy)
  copy = _lite_copy(model)
  endpoints = {"serving_default": (lite_serving_fn(model, copy), _signature(model, batch=1)),
               **_tiling_endpoints(model, layers.tflite_graph, render=copy)}
  models = {}
  with _scratch_saved_model(model, endpoints) as scratch:
    for precision in precisions:
      converter = tf.lite.TFLiteConverter.from_saved_model(
          scratch, signature_keys=["serving_default", STATISTICS, WITH_STATISTICS])
      # (the converter's own metadata, a model hash and its options, cost a decode and
      # re-encode of the whole file: 2 s of a small network's 10 s conversion)
      converter.exclude_conversion_metadata = True
      if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
      content = converter.convert()
      models[precision] = lite.with_style_names(content, names) if names else content
  return models


@contextlib.contextmanager
def _scratch_saved_model(model, endpoints):
  """A temporary SavedModel of `model` with `endpoints` (_write_saved_model); yields its
  folder."""
  scratch = tempfile.mkdtemp(prefix="fastchi-export-")
  try:
    _write_saved_model(model, endpoints, scratch)
    yield scratch
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def check_onnx_available() -> None:
  """Raises ExportError naming what to install when tf2onnx or onnxruntime is missing."""
  missing = []
  for module in ("tf2onnx", "onnxruntime"):
    try:
      importlib.import_module(module)
    except ImportError:
      missing.append(module)
  if missing:
    raise ExportError(f"--onnx needs {' and '.join(missing)}: pip install tf2onnx "
                      "onnxruntime (the versions in requirements.txt)")


def onnx_bytes(model: keras.Model) -> bytes:
  """The network as an ONNX model (tf2onnx): inputs "images", uint8 [batch, h, w, 3] whose
  sides are multiples of 4 (at least 8; OnnxRunner pads and crops, as for TFLite), and a
  multi-style model's "style" [N]; output "stylized".

  Traced in layers.tflite_graph, so that the graph pads with slices and concatenations
  and upsamples with DepthToSpace instead of the padding's index arithmetic (Range, Gather
  and shape ops per call).
  """
  check_onnx_available()
  import tf2onnx  # optional for users (see requirements.txt): only --onnx needs it
  serving = uint8_serving_fn(model, per_image=False)

  def traced(*args):
    with layers.tflite_graph():
      return serving(*args)

  with _scratch_saved_model(
      model, {"serving_default": (traced, _signature(model))}) as scratch:
    loaded = tf.saved_model.load(scratch)  # kept while converting: it holds the variables
    serve = loaded.signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    names = sorted(specs, key=lambda n: n != "images")  # images first, then style
    fn = tf.function(lambda *args: serve(**dict(zip(names, args))))
    proto, _ = tf2onnx.convert.from_function(
        fn, input_signature=[tf.TensorSpec(specs[n].shape, specs[n].dtype, name=n)
                             for n in names], opset=ONNX_OPSET)
  return proto.SerializeToString()


class OnnxRunner:
  """Runs an exported ONNX model with onnxruntime: (uint8 [h, w, 3], mix or None) -> uint8."""

  def __init__(self, content: bytes, threads: int = 0):
    check_onnx_available()
    import onnxruntime  # optional, as tf2onnx above
    # Its warnings about deprecated attributes are tf2onnx's choices, not the user's to fix.
    onnxruntime.set_default_logger_severity(3)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    self.session = onnxruntime.InferenceSession(content, options,
                                                providers=["CPUExecutionProvider"])
    self.input_names = [i.name for i in self.session.get_inputs()]

  def __call__(self, image, mix=None):
    h, w = np.shape(image)[:2]
    padded, (top, left) = lite.pad_for_network(image)
    feeds = {"images": padded}
    if "style" in self.input_names:
      if mix is None:
        raise ExportError("this ONNX model is multi-style: give a style mix")
      feeds["style"] = np.asarray(mix, np.float32)
    return self.session.run(None, feeds)[0][0, top:top + h, left:left + w]


EXPORT_NAMES = frozenset({SAVED_MODEL, KERAS_FILE, ONNX_FILE, *TFLITE_FILES.values()})


def check_export_dir(model_dir: str, export_dir: str) -> None:
  """Refuses an export folder that would replace the run or files that are not an export.

  An export replaces the whole folder, so that it holds exactly one model's files: a stale
  .tflite from an earlier export must not sit beside a new SavedModel.
  """
  if io_utils.is_within(model_dir, export_dir):
    raise ExportError(f"--export_dir {export_dir} holds the training run {model_dir}; "
                      "exporting there would replace the run")
  if os.path.exists(export_dir):
    if not os.path.isdir(export_dir):
      raise ExportError(f"--export_dir {export_dir} is a file, not a folder")
    others = sorted(set(os.listdir(export_dir)) - EXPORT_NAMES)
    if others:
      shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
      raise ExportError(f"--export_dir {export_dir} holds files that are not an export "
                        f"({shown}); give a new or empty folder, or an earlier export to "
                        "replace")
  try:
    io_utils.check_writable_folder(
        io_utils.existing_ancestor(os.path.dirname(os.path.abspath(export_dir))))
  except ValueError as e:
    raise ExportError(str(e)) from None



# The export check's larger image: past the 512x512 pixels where instance normalization's
# statistics leave the fused kernel (layers.FUSED_MAX_PIXELS), yet quick in LiteRT, whose
# time and memory grow with the pixels (the test suite's exports run it too).
# experiments/shipped/export_accuracy checks 1920x1080 and above against float64.
LARGE_CHECK_SIZE = (640, 480)


def _large_check_image(size):
  """A real photo at `size` (width, height): scikit-image's astronaut, stretched."""
  from fastchi_tf import samples  # (scikit-image's photos: only this check reads them)
  return np.asarray(Image.fromarray(samples.read_photo("astronaut.png")).resize(
      size, Image.BILINEAR))


def export_all(model_dir: str, export_dir: str, tflite: bool = False,
               check_image: Optional[np.ndarray] = None,
               large_check_size: Tuple[int, int] = LARGE_CHECK_SIZE,
               onnx: bool = False) -> Dict[str, int]:
  """Writes SavedModel, .keras and (optionally) TFLite and ONNX models of the run in
  `model_dir`.

  The folder is written whole and replaces any earlier export in `export_dir`. Each TFLite
  model and the ONNX model (run by onnxruntime) is checked against the SavedModel on
  `check_image` (uint8 [h, w, 3]; default a small noise image) and on a photo of
  `large_check_size`, where the statistics over many pixels are checked too; a multi-style
  one in its first style and in a 50/50 mix of the first two. Returns {"float32" /
  "float16" / "onnx": max absolute uint8 difference over those}.
  """
  check_export_dir(model_dir, export_dir)
  model = restore_render_net(model_dir)
  differences = {}

  def write(folder):
    saved = os.path.join(folder, SAVED_MODEL)
    export_saved_model(model, saved)
    export_keras(model, os.path.join(folder, KERAS_FILE))
    if not (tflite or onnx):
      return
    small = check_image
    if small is None:
      # odd sides: the TFLite and ONNX runners pad them to multiples of 4 and crop back
      small = np.random.default_rng(0).integers(0, 256, (97, 131, 3), np.uint8)
    loaded = tf.saved_model.load(saved)  # kept: its signature refers to its variables
    serve = loaded.signatures["serving_default"]
    names = style_names(model)
    mixes = [None]
    if names:
      mixes = [np.eye(len(names), dtype=np.float32)[0],
               np.array([0.5, 0.5] + [0.0] * (len(names) - 2), np.float32)]
    cases = [(image, mix) for image in (small, _large_check_image(large_check_size))
             for mix in mixes]
    references = [serve(images=tf.constant(image[None]), **(
        {} if mix is None else {"style": tf.constant(mix)}))["stylized"].numpy()[0]
                  for image, mix in cases]

    def largest_difference(runner):
      return max(int(np.abs(runner(image, mix).astype(int) - reference.astype(int)).max())
                 for (image, mix), reference in zip(cases, references))

    files = {}
    if tflite:
      for precision, content in tflite_models(model, list(TFLITE_FILES)).items():
        differences[precision] = largest_difference(TFLiteRunner(content))
        files[TFLITE_FILES[precision]] = content
    if onnx:
      content = onnx_bytes(model)
      differences["onnx"] = largest_difference(OnnxRunner(content))
      files[ONNX_FILE] = content
    for name, content in files.items():
      with open(os.path.join(folder, name), "wb") as f:
        f.write(content)

  write_folder(write, export_dir)
  return differences
