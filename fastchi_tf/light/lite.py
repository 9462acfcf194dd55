"""Running a .tflite render network with LiteRT alone: no TensorFlow import.

This is the light path: `tools/stylize.py` with a .tflite model needs only ai-edge-litert,
NumPy and Pillow (requirements-lite.txt), and starts in a second instead of TensorFlow's
several. A multi-style model's style names travel inside the file as TFLite metadata
(`with_style_names`), readable with LiteRT's own flatbuffer schema.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import sys
import threading
from typing import Optional, Sequence, Tuple

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated  # (22 ms; every runner reads style names)
from ai_edge_litert import _pywrap_litert_compiled_model_wrapper as _compiled_model
from ai_edge_litert import _pywrap_litert_environment_wrapper as _environment
from ai_edge_litert import _pywrap_litert_tensor_buffer_wrapper as _tensor_buffer
from ai_edge_litert.interpreter import Interpreter  # tf.lite.Interpreter's successor

from fastchi_tf.light import io_utils
from fastchi_tf.light.export_names import MINIMUM, MULTIPLE, STATISTICS, WITH_STATISTICS

_CPU = 1  # ai_edge_litert.hardware_accelerator.HardwareAccelerator.CPU
STYLES_METADATA = "fastchi_styles"  # metadata entry: JSON {"styles": [names]}


def with_style_names(content: bytes, names: Sequence[str]) -> bytes:
  """`content` (a .tflite flatbuffer) with the style names added as a metadata entry."""
  schema = schema_py_generated
  model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
  buffer = schema.BufferT()
  buffer.data = np.frombuffer(json.dumps({"styles": list(names)}).encode(), np.uint8)
  model.buffers.append(buffer)
  entry = schema.MetadataT()
  entry.name = STYLES_METADATA
  entry.buffer = len(model.buffers) - 1
  model.metadata = (model.metadata or []) + [entry]
  builder = flatbuffers.Builder(len(content) + 1024)
  builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
  return bytes(builder.Output())


def style_names(content: bytes) -> Tuple[str, ...]:
  """The style names stored by `with_style_names`, or () if there are none."""
  schema = schema_py_generated
  model = schema.Model.GetRootAs(content, 0)
  for i in range(model.MetadataLength()):
    entry = model.Metadata(i)
    if entry.Name() and entry.Name().decode() == STYLES_METADATA:
      data = model.Buffers(entry.Buffer()).DataAsNumpy()
      return tuple(json.loads(bytes(data).decode())["styles"])
  return ()


# XNNPACK's flag for transient indirection buffers (TFLITE_XNNPACK_DELEGATE_FLAG_TRANSIENT_
# INDIRECTION_BUFFER in LiteRT's xnnpack_delegate.h).
TRANSIENT_INDIRECTION = 0x20
SERVING = "serving_default"
# The size a compiled model is first sized at: XNNPACK refused the shipped network at 8x8
# (its quarter-resolution maps 2x2).
PROBE = (1, 32, 32, 3)


class TFLiteRunner:
  """Runs a .tflite render network on one uint8 [h, w, 3] image of any size; a multi-style
  one with float32 style weights [N] as well.

  The network runs in LiteRT's CompiledModel with XNNPACK's indirection buffers transient.
  By default each convolution keeps a table of k x k input pointers per output pixel for as
  long as the model lives, all of them at once: 190 MB of the width-16 network's 404 MB at
  1024x680, which became 213 MB, with the same pixels. Transient, the tables live in
  XNNPACK's workspace, one convolution's at a time, and are rebuilt at every call: as fast
  on a photo's one call (a new process's first call took 1.34-1.71 s against 1.49-1.64),
  but in a loop at one size the calls took 15-20% longer. `transient=False` (video, the web
  page) runs the Interpreter instead, which keeps the tables and lets other threads run
  while it works (a CompiledModel call holds the GIL). The Interpreter (which cannot pass
  XNNPACK flags) also reads the file's inputs, and runs a model whose output size is known
  only when it runs (a transposed convolution's), which the CompiledModel cannot.
  """

  def __init__(self, path_or_bytes: str | bytes, num_threads: Optional[int] = None,
               transient: bool = True) -> None:
    if isinstance(path_or_bytes, bytes):
      content, kwargs = path_or_bytes, {"model_content": path_or_bytes}
    else:
      with open(path_or_bytes, "rb") as f:
        content = f.read()
      kwargs = {"model_path": path_or_bytes}
    # LiteRT runs on one thread unless told; TensorFlow uses every core. The caller passes
    # --threads where a command has it.
    threads = num_threads or os.cpu_count() or 1
    kwargs["num_threads"] = threads
    self._content = content  # (the compiled model reads it while it lives)
    self._shape = None  # the interpreter's image shape
    self._runners = {}  # the interpreter's signature runners
    self._sized = {}  # the compiled model's {signature: (image shape, in and out buffers)}
    self._model = None
    self._transient = transient  # whether to run the CompiledModel (see _use_compiled)
    self._announced = False  # whether LiteRT has said its lines (see below)
    # LiteRT's C++ lines ("Created ... XNNPACK delegate", the accelerators registered) come
    # when a model is compiled and first sized: here, at a small size, behind the
    # redirection of fd 2 (a whole-process one, which would hide other threads' lines), so
    # that no later call needs it (a server's threads run without it). A model that cannot
    # be sized so keeps quieting its calls until one is.
    with io_utils.quiet_stderr():
      self.interpreter = Interpreter(**kwargs)
      inputs = self.interpreter.get_input_details()
      # The image input is the 4-D one; a multi-style model's other input is its style.
      images = [d for d in inputs if len(d["shape"]) == 4]
      others = [d for d in inputs if len(d["shape"]) != 4]
      self.image_input = images[0] if len(images) == 1 else None
      self.style_input = others[0] if len(others) == 1 else None
      self._signatures = self.interpreter.get_signature_list()
      self._announced = self._use_compiled(content, threads) or self._allocate(
          (1, MINIMUM, MINIMUM, 3))
    try:
      self.style_names = style_names(content)
    except Exception:  # noqa: BLE001  (a damaged table: the caller's checks name the file)
      self.style_names = ()

  def _use_compiled(self, content, threads) -> bool:
    """Runs the model in a CompiledModel from now on if it can (see the class): whether it
    could be sized for PROBE images and run.

    Only with transient tables: a CompiledModel call holds Python's GIL while it runs (the
    Interpreter's releases it), which would serialize a server's or a video's worker threads
    and stall their readers; their many calls at one size are what keeping the tables is
    for, and the Interpreter keeps them.
    """
    if not self._transient or self.image_input is None or SERVING not in self._signatures:
      return False
    try:
      self._model = _compile(content, threads)
      _, _, _, signature, details = self._size(SERVING, PROBE)
      wanted = {"images"} | ({"style"} if self.style_input is not None else set())
      if (set(signature["inputs"]) != wanted or "stylized" not in signature["outputs"]
          or tuple(details[signature["outputs"].index("stylized")]["shape"]) != PROBE):
        raise ValueError("not the serving signature this runner feeds")  # (or a size known
        # only when it runs)
      # Run once: LiteRT's environment logs its accelerators at a model's first run.
      style = None
      if self.style_input is not None:
        n = self.style_input["shape"][-1]
        style = np.ones([n], np.float32) / n
      self._run_signature(SERVING, **self._inputs(np.zeros(PROBE, np.uint8), style))
    except Exception:  # noqa: BLE001  (whatever the CompiledModel refuses, the Interpreter runs)
      self._sized = {}  # (the buffers before the model they belong to)
      self._model = None
      return False
    return True

  def _size(self, name, shape):
    """(shape, input buffers, output buffers, signature, output details) of the compiled model's
    signature `name` for images of `shape`, resized when the shape changes."""
    sized = self._sized.get(name)
    if sized is not None and sized[0] == tuple(shape):
      return sized
    self._sized.pop(name, None)  # (a failed resize leaves nothing half-sized)
    index = self._model.GetSignatureIndex(name)
    # (the compiled model's own order of the inputs and outputs, not the Interpreter's)
    signature = self._model.GetSignatureList()[name]
    self._model.ResizeInputTensorNonStrict(index, signature["inputs"].index("images"),
                                           list(shape))
    details = self._model.GetOutputTensorDetails(name)
    sized = (tuple(shape), self._model.CreateInputBuffers(index),
             self._model.CreateOutputBuffers(index), signature,
             [details[key] for key in signature["outputs"]])
    self._sized[name] = sized
    return sized

  def _allocate(self, shape) -> bool:
    """Sizes the interpreter's image input to `shape` and allocates; False if the model
    refuses."""
    if self.image_input is None:
      return False
    try:
      self.interpreter.resize_tensor_input(self.image_input["index"], shape, strict=False)
      self.interpreter.allocate_tensors()
    except (RuntimeError, ValueError):
      self._shape = None
      return False
    self._shape = tuple(shape)
    return True

  def _quiet(self):
    """quiet_stderr until the model has been sized once (see __init__), then nothing."""
    return contextlib.nullcontext() if self._announced else io_utils.quiet_stderr()

  @property
  def tiles(self) -> bool:
    """Whether the model has the signatures that tiling needs (exports since they came)."""
    return {STATISTICS, WITH_STATISTICS} <= set(self._signatures)

  def statistics(self, image: np.ndarray, style: Optional[np.ndarray] = None) -> dict:
    """Every InstanceNorm layer's input statistics on uint8 [h, w, 3] (export.STATISTICS)."""
    return self._run_signature(STATISTICS, **self._inputs(pad_for_network(image)[0], style))

  def with_statistics(self, image: np.ndarray, statistics: dict,
                      style: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 [h, w, 3] stylized with the given statistics (export.WITH_STATISTICS)."""
    padded, (top, left) = pad_for_network(image)
    out = self._run_signature(WITH_STATISTICS, **self._inputs(padded, style), **statistics)
    h, w = image.shape[:2]
    return out["stylized"][0, top:top + h, left:left + w]

  def _run_signature(self, name, **inputs) -> dict:
    """{output name: array} of signature `name` on `inputs` (by input name)."""
    with self._quiet():
      if self._model is None:
        if name not in self._runners:
          self._runners[name] = self.interpreter.get_signature_runner(name)
        return self._runners[name](**inputs)
      _, buffers, outputs, signature, details = self._size(name, inputs["images"].shape)
      self._announced = True
      for key, buffer in zip(signature["inputs"], buffers):
        value = np.ascontiguousarray(inputs[key])
        _tensor_buffer.WriteTensorBuffer(buffer, value.reshape(-1), value.dtype.name)
      self._model.RunByIndex(self._model.GetSignatureIndex(name), buffers, outputs)
    found = {}
    for key, buffer, detail in zip(signature["outputs"], outputs, details):
      found[key] = np.empty(detail["shape"], detail["dtype"])
      _tensor_buffer.ReadTensorToBuffer(buffer, found[key].reshape(-1), detail["dtype"])
    return found

  def _inputs(self, padded, style):
    inputs = {"images": padded}
    if self.style_input is not None:
      if style is None:
        raise ValueError("this TFLite model takes style weights")
      style = np.asarray(style, np.float32)
      # (the CompiledModel copies a shorter vector in without a word)
      if style.shape != tuple(self.style_input["shape"][-1:]):
        raise ValueError(f"this TFLite model takes {self.style_input['shape'][-1]} style "
                         f"weights, got an array of shape {style.shape}")
      inputs["style"] = style
    return inputs

  def __call__(self, image: np.ndarray, style: Optional[np.ndarray] = None) -> np.ndarray:
    # Padded here as the network's PadToMultiple would (export.lite_serving_fn leaves it
    # out of the graph); models exported before that pad again, to no effect.
    h, w = np.shape(image)[:2]
    image, (top, left) = pad_for_network(image)
    inputs = self._inputs(image, style)
    if self._model is not None:
      out = self._run_signature(SERVING, **inputs)["stylized"][0]
      return out[top:top + h, left:left + w]
    index = self.image_input["index"]
    # A signature runner (tiling) holds the interpreter, which then refuses to resize or
    # run ("reference to internal data"): a folder's small photo after a large, tiled one.
    self._runners.clear()
    if self._shape != image.shape:
      self.interpreter.resize_tensor_input(index, image.shape, strict=False)
      with self._quiet():
        self.interpreter.allocate_tensors()
      self._shape, self._announced = image.shape, True
    self.interpreter.set_tensor(index, image)
    if "style" in inputs:
      self.interpreter.set_tensor(self.style_input["index"], inputs["style"])
    self.interpreter.invoke()
    out = self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])[0]
    return out[top:top + h, left:left + w]


_environment_lock = threading.Lock()
_environments = []  # the process's LiteRT environment, made at the first model


def _compile(content: bytes, threads: int):
  """LiteRT's CompiledModel of `content` on the CPU, XNNPACK's indirection buffers transient.

  Through the wrapper's own bindings: the public ai_edge_litert.compiled_model imports
  ml_dtypes, 1.1-1.3 s of a photo's 1-2 s end to end (ai-edge-litert is pinned: 2.3.0).
  All models share one environment, never freed: it loads LiteRT's accelerators (14 MB); a
  second one made after the first was freed crashed the process, and freeing one logs to
  stderr (at exit too).
  """
  with _environment_lock:
    if not _environments:
      environment = _environment.CreateEnvironment()
      ctypes.pythonapi.Py_IncRef(ctypes.py_object(environment))  # (kept past exit)
      _environments.append(environment)
      # LiteRT's registry still logs its accelerators' end after Python's (C++ statics).
      atexit.register(_quiet_exit)
  return _compiled_model.CreateCompiledModelFromBuffer(
      _environments[0], content, hardware_accel=_CPU, cpu_num_threads=threads,
      xnnpack_flags=TRANSIENT_INDIRECTION)


def _quiet_exit():
  """fd 2 to /dev/null for the process's last moments (see _compile)."""
  try:
    sys.stderr.flush()
  except (OSError, ValueError, AttributeError):  # (closed, or a pipe no one reads)
    pass
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  os.close(devnull)


def pad_for_network(image: np.ndarray) -> Tuple[np.ndarray, Tuple[int, int]]:
  """(uint8 [1, H, W, 3]: `image` padded to sides the exported networks take, (top, left)
  offsets of `image` in it)."""
  image = np.asarray(image, np.uint8)
  pads = [_pad(image.shape[0]), _pad(image.shape[1])]
  padded = np.pad(image, pads + [(0, 0)], mode="edge")[None]
  return padded, (pads[0][0], pads[1][0])


def _pad(size, multiple=MULTIPLE, minimum=MINIMUM):
  """(before, after): edge rows that bring `size` up to a multiple of `multiple` and at
  least `minimum`, split like layers.PadToMultiple."""
  extra = -(-max(size, minimum) // multiple) * multiple - size
  return extra // 2, extra - extra // 2
