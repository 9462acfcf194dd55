"""Darknet's tiny-YOLO backbone in Keras, and Darknet `.weights` files read and written.

The backbone is pjreddie's cfg/tiny-yolo-voc.cfg (the same network as yolov2-tiny-voc.cfg)
up to, not including, the final 1x1 detection convolution: eight 3x3 convolutions of 16, 32,
64, 128, 256, 512, 1024 and 1024 filters, each batch-normalized (no bias) and leaky
(slope 0.1), with a 2x2 max-pool after the first six (stride 2, the sixth stride 1).
cfg/yolov2-tiny.cfg (COCO) differs only in the eighth convolution: 512 filters.

Layers are named conv<i>, bn<i>, leaky<i> (i = 1..8) and pool<i> (i = 1..6).
"""

import dataclasses
from typing import Mapping, Optional, Sequence, Tuple

import keras
import numpy as np

TINY_YOLO_VOC = (16, 32, 64, 128, 256, 512, 1024, 1024)
YOLOV2_TINY = (16, 32, 64, 128, 256, 512, 1024, 512)
# Backbones a .weights file may hold, tried in this order by `infer_filters`.
CFGS = {"tiny-yolo-voc": TINY_YOLO_VOC, "yolov2-tiny": YOLOV2_TINY}
_POOL_STRIDES = (2, 2, 2, 2, 2, 1)
KERNEL_SIZE = 3
LEAKY_SLOPE = 0.1
# Darknet normalizes by sqrt(var + 1e-5) on the GPU (normalize_kernel, used to train the
# published weights) and by sqrt(var) + 1e-6 on the CPU (normalize_cpu); Keras has the
# first form.
BN_EPSILON = 1e-5


def build_tiny_yolo(filters: Sequence[int] = TINY_YOLO_VOC,
                    name: str = "tiny_yolo") -> keras.Model:
  """The tiny-YOLO backbone: RGB in [0, 255], any size -> the last leaky-ReLU's features.

  Args:
    filters: the eight convolutions' widths; TINY_YOLO_VOC, YOLOV2_TINY, or smaller for tests.
  """
  if len(filters) != 8:
    raise ValueError(f"tiny-YOLO has 8 convolutions, got filters={tuple(filters)}")
  image = keras.Input(shape=(None, None, 3), name="image")
  # Darknet feeds RGB in [0, 1].
  x = keras.layers.Rescaling(1.0 / 255.0, name="preprocess")(image)
  for i, n in enumerate(filters, 1):
    x = keras.layers.Conv2D(n, KERNEL_SIZE, padding="same", use_bias=False, name=f"conv{i}")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"bn{i}")(x)
    x = keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"leaky{i}")(x)
    if i <= len(_POOL_STRIDES):
      # Darknet's maxpool pads size - 1 = 1 pixel after the end: Keras' "same" exactly, also
      # for odd sizes (ceil) and for the stride-1 pool that keeps the size.
      x = keras.layers.MaxPooling2D(2, strides=_POOL_STRIDES[i - 1], padding="same",
                                    name=f"pool{i}")(x)
  return keras.Model(image, x, name=name)


def conv_pairs(model: keras.Model
               ) -> list[Tuple[keras.layers.Conv2D, keras.layers.BatchNormalization]]:
  """[(Conv2D, BatchNormalization)] in cfg order."""
  count = sum(isinstance(l, keras.layers.Conv2D) for l in model.layers)
  return [(model.get_layer(f"conv{i}"), model.get_layer(f"bn{i}")) for i in range(1, count + 1)]


def backbone_size(filters: Sequence[int], channels: int = 3) -> int:
  """Number of float32 values the backbone takes in a .weights file."""
  total = 0
  for n in filters:
    total += 4 * n + n * channels * KERNEL_SIZE ** 2
    channels = n
  return total


def _fits(extra, last_filters):
  # Trailing data is accepted only if it is the cfg's detection layer: a 1x1 convolution
  # with bias and no batch norm, n * (1 + last_filters) values for some n.
  return extra == 0 or (extra > 0 and extra % (1 + last_filters) == 0)


@dataclasses.dataclass
class Header:
  """The start of a .weights file."""
  major: int = 0
  minor: int = 2
  revision: int = 0
  seen: int = 0  # images seen in training

  @property
  def wide_seen(self) -> bool:
    """Darknet's parser.c: `seen` is a size_t from version 0.2 on, an int before."""
    return (self.major * 10 + self.minor) >= 2 and self.major < 1000 and self.minor < 1000


def read_weights(path: str) -> Tuple[Header, np.ndarray]:
  """(Header, float32 values after it) of a Darknet .weights file."""
  with open(path, "rb") as f:
    data = f.read()
  if len(data) < 12:
    raise ValueError(f"Darknet weights file {path} is truncated: {len(data)} bytes, no header")
  header = Header(*(int(v) for v in np.frombuffer(data, "<i4", 3)))
  seen_type = "<i8" if header.wide_seen else "<i4"
  start = 12 + np.dtype(seen_type).itemsize
  if len(data) < start:
    raise ValueError(f"Darknet weights file {path} is truncated inside its header")
  header.seen = int(np.frombuffer(data, seen_type, 1, offset=12)[0])
  if (len(data) - start) % 4:
    raise ValueError(f"Darknet weights file {path} does not hold whole float32 values "
                     f"({len(data) - start} bytes after the header)")
  return header, np.frombuffer(data, "<f4", offset=start)


def infer_filters(path: str,
                  cfgs: Optional[Mapping[str, Sequence[int]]] = None) -> Tuple[int, ...]:
  """The filters of the backbone in `cfgs` (default CFGS) whose size fits the file."""
  cfgs = CFGS if cfgs is None else cfgs
  _, values = read_weights(path)
  for filters in cfgs.values():
    if _fits(values.size - backbone_size(filters), filters[-1]):
      return tuple(filters)
  raise ValueError(f"Darknet weights file {path} ({values.size} values) fits none of "
                   f"{', '.join(cfgs)}")


def load_weights(model: keras.Model, path: str) -> Header:
  """Copies a Darknet .weights file into a `build_tiny_yolo` model; returns its Header.

  Darknet's load_convolutional_weights reads, per convolution in cfg order: biases (the
  batch norm's beta), scales (gamma), rolling mean, rolling variance, then the kernel as
  [filters, channels, kh, kw]. A trailing detection convolution is skipped.
  """
  header, values = read_weights(path)
  convs = conv_pairs(model)
  need = sum(bn.gamma.shape[0] * 4 + int(np.prod(conv.kernel.shape)) for conv, bn in convs)
  if values.size < need:
    raise ValueError(f"Darknet weights file {path} is truncated: {values.size} values, "
                     f"{model.name} needs {need}")
  if not _fits(values.size - need, convs[-1][0].filters):
    raise ValueError(f"Darknet weights file {path} has {values.size - need} unread values "
                     f"after {model.name}'s {need}, not a detection convolution")
  offset = 0

  def take(count):
    nonlocal offset
    offset += count
    return values[offset - count:offset]

  for conv, bn in convs:
    kh, kw, c, n = conv.kernel.shape
    beta, gamma, mean, variance = (take(n) for _ in range(4))
    kernel = take(n * c * kh * kw).reshape(n, c, kh, kw).transpose(2, 3, 1, 0)
    conv.set_weights([kernel])
    bn.set_weights([gamma, beta, mean, variance])
  return header
