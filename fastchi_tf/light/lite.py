"""Running a .tflite render network with LiteRT alone: no TensorFlow import.

This is the light path: `tools/stylize.py` with a .tflite model needs only ai-edge-litert,
NumPy and Pillow (requirements-lite.txt), and starts in a second instead of TensorFlow's
several. A multi-style model's style names travel inside the file as TFLite metadata
(`with_style_names`), readable with LiteRT's own flatbuffer schema.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Optional, Sequence, Tuple

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated  # (22 ms; every runner reads style names)
from ai_edge_litert.interpreter import Interpreter  # tf.lite.Interpreter's successor

from fastchi_tf.light import io_utils
from fastchi_tf.light.export_names import MINIMUM, MULTIPLE, STATISTICS, WITH_STATISTICS

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


class TFLiteRunner:
  """Runs a .tflite render network on one uint8 [h, w, 3] image of any size; a multi-style
  one with float32 style weights [N] as well."""

  def __init__(self, path_or_bytes: str | bytes, num_threads: Optional[int] = None) -> None:
    if isinstance(path_or_bytes, bytes):
      content, kwargs = path_or_bytes, {"model_content": path_or_bytes}
    else:
      with open(path_or_bytes, "rb") as f:
        content = f.read()
      kwargs = {"model_path": path_or_bytes}
    # LiteRT runs on one thread unless told; TensorFlow uses every core. The caller passes
    # --threads where a command has it.
    kwargs["num_threads"] = num_threads or os.cpu_count() or 1
    self._shape = None
    self._runners = {}
    # LiteRT's C++ "Created ... XNNPACK delegate" line comes at an interpreter's first
    # allocation, once: made here, at the smallest size, behind the redirection of fd 2 (a
    # whole-process one, which would hide other threads' lines), so that no later call needs
    # it (a server's threads run without it). A model that cannot be allocated so keeps
    # quieting its calls until one allocates.
    with io_utils.quiet_stderr():
      self.interpreter = Interpreter(**kwargs)
      inputs = self.interpreter.get_input_details()
      # The image input is the 4-D one; a multi-style model's other input is its style.
      images = [d for d in inputs if len(d["shape"]) == 4]
      others = [d for d in inputs if len(d["shape"]) != 4]
      self.image_input = images[0] if len(images) == 1 else None
      self.style_input = others[0] if len(others) == 1 else None
      self._announced = self._allocate((1, MINIMUM, MINIMUM, 3))
    try:
      self.style_names = style_names(content)
    except Exception:  # noqa: BLE001  (a damaged table: the caller's checks name the file)
      self.style_names = ()

  def _allocate(self, shape) -> bool:
    """Sizes the image input to `shape` and allocates; False if the model refuses."""
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
    """quiet_stderr until this interpreter has allocated once (see __init__), then nothing."""
    return contextlib.nullcontext() if self._announced else io_utils.quiet_stderr()

  @property
  def tiles(self) -> bool:
    """Whether the model has the signatures that tiling needs (exports since they came)."""
    return {STATISTICS, WITH_STATISTICS} <= set(self.interpreter.get_signature_list())

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

  def _run_signature(self, name, **inputs):
    with self._quiet():
      if name not in self._runners:
        self._runners[name] = self.interpreter.get_signature_runner(name)
      return self._runners[name](**inputs)

  def _inputs(self, padded, style):
    inputs = {"images": padded}
    if self.style_input is not None:
      if style is None:
        raise ValueError("this TFLite model takes style weights")
      inputs["style"] = np.asarray(style, np.float32)
    return inputs

  def __call__(self, image: np.ndarray, style: Optional[np.ndarray] = None) -> np.ndarray:
    # Padded here as the network's PadToMultiple would (export.lite_serving_fn leaves it
    # out of the graph); models exported before that pad again, to no effect.
    h, w = np.shape(image)[:2]
    image, (top, left) = pad_for_network(image)
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
    if self.style_input is not None:
      if style is None:
        raise ValueError("this TFLite model takes style weights")
      self.interpreter.set_tensor(self.style_input["index"], np.asarray(style, np.float32))
    self.interpreter.invoke()
    out = self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])[0]
    return out[top:top + h, left:left + w]


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
