"""Serializable Keras layers of the render networks.

Every layer here is registered under the package "fastchi", so a model saved as `.keras` loads
back with `safe_mode=True` (no Lambda layers anywhere).
"""

import contextlib
import functools
import itertools
import threading
from typing import Any, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

_PACKAGE = "fastchi"


# Trace-time settings of this thread (tflite_graph, given_statistics): another thread may be
# tracing the same layers for another purpose at the same time.
_TRACING = threading.local()


def _tflite_graph_on():
  return getattr(_TRACING, "tflite_graph", False)


def _given_statistics():
  return getattr(_TRACING, "statistics", None)


def _statistics_by_size_on():
  return getattr(_TRACING, "statistics_by_size", False)


@contextlib.contextmanager
def _setting(name, value):
  old = getattr(_TRACING, name, None)
  setattr(_TRACING, name, value)
  try:
    yield
  finally:
    setattr(_TRACING, name, old)


@contextlib.contextmanager
def tflite_graph():
  """Traces the layers with ops whose output sizes TFLite knows before it runs.

  In a TFLite model, a tensor whose size is computed by ops (the padding's index
  arithmetic, an upsampling size from tf.shape) is allocated on its own at run time and
  kept until the end, and so is everything downstream: at 1920x1080 every activation
  stays in memory at once (5.4 GB, against the SavedModel's 1.7). Traced here, padding is
  slices of constant bounds and concatenations, upsampling a channel concatenation and
  depth_to_space, so every size follows from the input's and LiteRT plans one arena that
  reuses memory; and every op but the casts and space_to_depth is one XNNPACK runs (see
  _reflect_slices). The pad to a multiple of 4 and its crop are left to the caller
  (lite.TFLiteRunner, export.OnnxRunner), which feeds sizes the network takes.
  """
  with _setting("tflite_graph", True):
    yield


@contextlib.contextmanager
def statistics_by_size():
  """Traces InstanceNorm's fused inference path so that, on an image whose size is known
  only when it runs, the size chooses the fused kernel's own statistics (up to
  FUSED_MAX_PIXELS) or `moments`' (InstanceNorm._fused).

  How the SavedModel's any-size signature gets the fast kernel at small sizes. Elsewhere an
  unknown size gets `moments`', as a relaxed Keras trace does, so that a batch and its
  images one by one give the same pixels whatever shapes the traces were made for.
  """
  with _setting("statistics_by_size", True):
    yield


@contextlib.contextmanager
def given_statistics(statistics):
  """Traces each InstanceNorm named in `statistics` ({layer name: (mean, variance)}, tensors
  [1, 1, 1, C]) with those statistics instead of its input's.

  How an export takes whole-image statistics as inputs, so that it can render a large
  image in tiles that agree (fastchi_tf.tiling); a Keras model gets them as constants
  instead (tiling.with_statistics).
  """
  with _setting("statistics", statistics):
    yield


def _dim(x, axis):
  """Static size of `axis` when known (keeps graphs shape-static), else the dynamic one."""
  size = x.shape[axis]
  return size if size is not None else tf.shape(x)[axis]


def _reflect_index(size, pad, length=None):
  """Rows that reflection padding by `pad` reads from `size` rows (numpy if size is static).

  With `length`, that many rows from the first; any past the padding repeat its last row.
  """
  stop = size + pad if length is None else length - pad
  if isinstance(size, int):
    i = np.minimum(np.arange(-pad, stop), size - 1 + pad)
    return (size - 1) - np.abs((size - 1) - np.abs(i))
  i = tf.minimum(tf.range(-pad, stop), size - 1 + pad)
  return (size - 1) - tf.abs((size - 1) - tf.abs(i))


def _edge_index(size, before, after):
  """Rows that edge padding by `before` and `after` reads from `size` rows."""
  if isinstance(size, int):
    return np.clip(np.arange(-before, size + after), 0, size - 1)
  return tf.clip_by_value(tf.range(-before, size + after), 0, size - 1)


def _reflect_slices(x, pad):
  """Reflection padding of height and width as slices and concatenations.

  TFLite's MIRROR_PAD is not one of XNNPACK's ops: each one split the graph between
  XNNPACK and LiteRT's own single-threaded kernels, and the width-16 network ran 1.6-1.8x
  slower for it (experiments/bench/bench_exports). Slices of constant bounds and concatenations
  are XNNPACK's, and their sizes still follow from the input's (see tflite_graph).
  """
  def mirror(x, axis):
    if x.shape[axis] is not None and x.shape[axis] <= pad:  # (tf.pad's error; slices would
      raise ValueError(f"reflection padding by {pad} needs sides of more than {pad} "
                       f"pixels, got {x.shape[axis]}")  # quietly pad less)

    def rows(start, stop):
      index = [slice(None)] * 4
      index[axis] = slice(start, stop)
      return x[tuple(index)]
    before = [rows(i, i + 1) for i in range(pad, 0, -1)]
    after = [rows(-1 - i, -i) for i in range(1, pad + 1)]
    return tf.concat(before + [x] + after, axis)
  return mirror(mirror(x, 1), 2)


def _gather_pixels(x, rows, cols):
  """x[:, rows][:, cols], as one gather over the flattened pixels.

  Padding this way copies the output once instead of once per axis; on CPU it runs about
  twice as fast as tf.pad's MirrorPad and about as fast as zero padding.
  """
  n, h, w, c = (_dim(x, axis) for axis in range(4))
  index = tf.reshape(rows[:, None] * w + cols[None, :], [-1])
  out = tf.gather(tf.reshape(x, [n, h * w, c]), index, axis=1)
  return tf.reshape(out, [n, _dim(rows, 0), _dim(cols, 0), c])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReflectionPad2D(keras.layers.Layer):
  """Pads height and width by `padding` pixels on each side, mirroring the border."""

  def __init__(self, padding: int, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.padding = int(padding)

  def call(self, x):
    p = self.padding
    if _tflite_graph_on():
      return _reflect_slices(x, p)
    return _gather_pixels(x, _reflect_index(_dim(x, 1), p), _reflect_index(_dim(x, 2), p))

  def compute_output_shape(self, input_shape):
    b, h, w, c = input_shape
    grow = lambda d: None if d is None else d + 2 * self.padding
    return (b, grow(h), grow(w), c)

  def get_config(self):
    return {**super().get_config(), "padding": self.padding}


# Above this many pixels per image the fused kernel's own statistics are not used (see
# InstanceNorm._fused): 512 x 512.
FUSED_MAX_PIXELS = 1 << 18


def moments(x: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """Mean and variance over height and width, each [b, 1, 1, C], accurate at any size.

  A float32 reduction over millions of pixels in one go drifts (tf.nn.moments is off by
  0.5% in variance at 3840x2160, a few uint8 levels after the network); reducing rows
  first, then the row means, keeps each sum to a few thousand terms (error ~1e-6). Two
  passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2.
  """
  mean = tf.reduce_mean(tf.reduce_mean(x, axis=2, keepdims=True), axis=1, keepdims=True)
  deviation = tf.math.squared_difference(x, tf.stop_gradient(mean))
  variance = tf.reduce_mean(tf.reduce_mean(deviation, axis=2, keepdims=True), axis=1,
                            keepdims=True)
  return mean, variance


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StyleAffine(keras.layers.Layer):
  """A scale and a shift per channel, and per style: InstanceNorm without the statistics.

  With `num_styles` N > 1, gamma and beta are [N, C] and the layer is called on
  `[x, style]`, style [batch, N] weighing the rows (a one-hot row picks a style, a convex one
  mixes them); N = 1 takes x alone, gamma and beta [C].

  Where it replaces instance normalization (render_net's `trunk_norm="affine"`), no output
  depends on statistics of the whole image. Per-image statistics let a network grow a
  "droplet" (Karras et al. 2020, StyleGAN2 section 2): a spike in one flat area that holds
  most of a channel's variance, so that the norm turns the rest of the map down at will. In
  our trained networks it showed as a white oval in bright skies (docs/styles_history.md).
  """

  def __init__(self, num_styles: int = 1, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.num_styles = int(num_styles)

  def build(self, input_shape):
    if self.num_styles > 1:
      input_shape = input_shape[0]
    shape = (input_shape[-1],) if self.num_styles == 1 else (self.num_styles, input_shape[-1])
    self.gamma = self.add_weight(name="gamma", shape=shape, initializer="ones")
    self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros")

  def _affine(self, style, dtype):
    """(scale, shift): [C] each, or [batch, 1, 1, C] each for a style mix."""
    gamma, beta = tf.cast(self.gamma, dtype), tf.cast(self.beta, dtype)
    if style is None:
      return gamma, beta
    style = tf.cast(style, dtype)
    return (tf.matmul(style, gamma)[:, None, None, :], tf.matmul(style, beta)[:, None, None, :])

  def call(self, inputs):
    x, style = (inputs, None) if self.num_styles == 1 else inputs
    gamma, beta = self._affine(style, x.dtype)
    return x * gamma + beta

  def compute_output_shape(self, input_shape):
    return input_shape if self.num_styles == 1 else input_shape[0]

  def get_config(self):
    config = super().get_config()
    if self.num_styles > 1:  # N = 1 configs stay as they were
      config["num_styles"] = self.num_styles
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InstanceNorm(StyleAffine):
  """Affine instance normalization (Ulyanov et al. 2016) over height and width.

  Statistics come from each image alone, which is what makes the render network
  style-consistent across a batch; epsilon follows PyTorch's InstanceNorm2d.

  With `num_styles` N > 1 it is conditional instance normalization (Dumoulin et al. 2017):
  the style's rows of gamma and beta scale and shift the normalized map (StyleAffine). N = 1
  is the plain layer, so single-style checkpoints and exports stay as they were.
  """

  def __init__(self, epsilon: float = 1e-5,
               statistics: Optional[Tuple[np.ndarray, np.ndarray]] = None,
               num_styles: int = 1, **kwargs: Any) -> None:
    super().__init__(num_styles=num_styles, **kwargs)
    self.epsilon = float(epsilon)
    # (mean, variance), each [1, 1, 1, C], imposed instead of each image's own statistics.
    # Tiled inference (fastchi_tf.tiling) builds a copy of the network with whole-image
    # statistics so that tiles agree; a constructor argument, so a model shared by threads
    # has no per-call state. Not serialized.
    self.statistics = None if statistics is None else tuple(
        tf.constant(np.asarray(s, np.float32)) for s in statistics)

  def call(self, inputs, training=None):
    x, style = (inputs, None) if self.num_styles == 1 else inputs
    given = self.statistics
    if given is None and _given_statistics() is not None:
      given = _given_statistics().get(self.name)
    if given is not None:
      mean, variance = (tf.cast(s, x.dtype) for s in given)
    elif (not training and x.shape[0] is not None and x.dtype == tf.float32
          and not _tflite_graph_on()):
      # (TFLite lowers the fused kernel's [C] statistics with a RESHAPE that XNNPACK does
      # not take: see _reflect_slices)
      return self._fused(x, style)
    else:
      mean, variance = moments(x)
    gamma, beta = self._affine(style, x.dtype)
    inv = tf.math.rsqrt(variance + self.epsilon) * gamma
    return x * inv + (beta - mean * inv)

  def _fused(self, x, style):
    """Inference on a static batch, image by image: batch normalization over one image's
    pixels is instance normalization. The fused kernel (oneDNN on CPU; grappler folds a
    following ReLU into it, though not across statistics_by_size's tf.cond) runs 2-3x
    faster than moments + scale + shift, but its
    statistics are a float32 running sum: over more than FUSED_MAX_PIXELS pixels they drift
    by a few uint8 levels (experiments/shipped/export_accuracy), so larger images get `moments`'
    and the kernel only scales and shifts; so does a size known only at run time, unless
    traced in statistics_by_size (the SavedModel's), which traces both and lets it
    choose."""
    known = x.shape[1] is not None and x.shape[2] is not None
    out = []
    for i in range(x.shape[0]):
      if style is None:
        gamma, beta = tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta)
      else:  # this image's mix of the styles' scales and shifts
        weights = tf.cast(style[i:i + 1], tf.float32)
        gamma, beta = tf.matmul(weights, self.gamma)[0], tf.matmul(weights, self.beta)[0]
      image = x[i:i + 1] if x.shape[0] > 1 else x
      own = functools.partial(self._batch_norm, image, gamma, beta, None)
      given = functools.partial(self._given_batch_norm, image, gamma, beta)
      if known:
        out.append(own() if x.shape[1] * x.shape[2] <= FUSED_MAX_PIXELS else given())
      elif _statistics_by_size_on():  # chosen when it runs
        out.append(tf.cond(tf.shape(image)[1] * tf.shape(image)[2] <= FUSED_MAX_PIXELS,
                           own, given))
      else:
        out.append(given())
    return out[0] if len(out) == 1 else tf.concat(out, 0)

  def _given_batch_norm(self, image, gamma, beta):
    return self._batch_norm(image, gamma, beta, moments(image))

  def _batch_norm(self, image, gamma, beta, statistics):
    """The fused kernel on one image: with its own statistics (None), or only scaling and
    shifting by given (mean, variance) [1, 1, 1, C] (is_training False)."""
    empty = tf.constant([], tf.float32)
    mean, variance = (empty, empty) if statistics is None else (
        tf.reshape(s, [-1]) for s in statistics)
    return tf.raw_ops.FusedBatchNormV3(
        x=image, scale=gamma, offset=beta, mean=mean, variance=variance,
        epsilon=self.epsilon, is_training=statistics is None)[0]

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StyleWeights(keras.layers.Layer):
  """The style input of a multi-style network: weights [batch, N] made a convex mix.

  Negative weights count as 0 and the rest are divided by their sum (the tools refuse
  negative and all-zero vectors before they get here). Holds the styles' names, so that a
  .keras file carries them.
  """

  def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.names = tuple(str(n) for n in names)

  def call(self, weights):
    weights = tf.nn.relu(tf.cast(weights, tf.float32))
    return weights / tf.maximum(tf.reduce_sum(weights, axis=-1, keepdims=True), 1e-12)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "names": list(self.names)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NearestUpsample2D(keras.layers.Layer):
  """Nearest-neighbour upsampling by an integer factor.

  Unlike keras.layers.UpSampling2D on dynamic shapes, it keeps the channel count static,
  which TFLite's converter needs for the convolution that follows.
  """

  def __init__(self, factor: int = 2, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.factor = int(factor)

  def call(self, x):
    if _tflite_graph_on():  # each pixel copied to the factor x factor block it becomes
      f = self.factor  # (a concatenation: TFLite's TILE is not XNNPACK's, see _reflect_slices)
      return tf.nn.depth_to_space(tf.concat([x] * (f * f), -1), f)
    size = tf.shape(x)[1:3] * self.factor
    return tf.image.resize(x, size, method="nearest")

  def compute_output_shape(self, input_shape):
    b, h, w, c = input_shape
    grow = lambda d: None if d is None else d * self.factor
    return (b, grow(h), grow(w), c)

  def get_config(self):
    return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PadToMultiple(keras.layers.Layer):
  """Pads height and width up to a multiple of `multiple` (and at least `minimum`).

  The render network downsamples by 4 and reflection-pads by up to 4 pixels, so it needs
  inputs of a suitable size; edge replication works for any size, a 1x1 image included
  (reflection cannot pad more pixels than the image has). Padding is split between both
  sides so that border effects stay symmetric; `CropToReference` undoes it.
  """

  def __init__(self, multiple: int = 4, minimum: int = 8, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.multiple = int(multiple)
    self.minimum = int(minimum)

  def _target(self, size):
    size = max(size, self.minimum) if isinstance(size, int) else tf.maximum(size, self.minimum)
    return (size + self.multiple - 1) // self.multiple * self.multiple

  def _index(self, size):
    extra = self._target(size) - size
    before = extra // 2
    return _edge_index(size, before, extra - before)

  def call(self, x):
    if _tflite_graph_on():
      return x  # the caller padded (see tflite_graph)
    h, w = _dim(x, 1), _dim(x, 2)
    if isinstance(h, int) and isinstance(w, int) and (h, w) == (self._target(h), self._target(w)):
      return x  # already a valid size: skip the copy
    return _gather_pixels(x, self._index(h), self._index(w))

  def compute_output_shape(self, input_shape):
    b, h, w, c = input_shape

    def grow(d):
      if d is None:
        return None
      d = max(d, self.minimum)
      return -(-d // self.multiple) * self.multiple

    return (b, grow(h), grow(w), c)

  def get_config(self):
    return {**super().get_config(), "multiple": self.multiple, "minimum": self.minimum}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropToReference(keras.layers.Layer):
  """Crops `[padded, reference]` back to the reference's height and width.

  The inverse of PadToMultiple: the crop starts where PadToMultiple's padding ended.
  """

  def call(self, inputs):
    padded, reference = inputs
    if _tflite_graph_on():
      return padded  # the caller crops (see tflite_graph)
    h, w = tf.shape(reference)[1], tf.shape(reference)[2]
    top = (tf.shape(padded)[1] - h) // 2
    left = (tf.shape(padded)[2] - w) // 2
    return padded[:, top:top + h, left:left + w, :]

  def compute_output_shape(self, input_shapes):
    padded, reference = input_shapes
    return (padded[0], reference[1], reference[2], padded[3])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Tanh(keras.layers.Layer):
  """tanh whose gradient, in training, never falls below `floor`.

  The forward pass is tanh's exactly. A saturated tanh passes almost no gradient: a pixel
  pinned at 255 by a large input (the droplet's white oval, where tanh's input reached
  126-145) kept 2-6% of the gradient elsewhere, so training never took it back. With a
  floor the loss still reaches it. Inference (training False) is the plain op.
  """

  def __init__(self, floor: float = 0.0, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.floor = float(floor)

  def call(self, x, training=None):
    y = tf.tanh(x)
    if training and self.floor:
      y += self.floor * (x - tf.stop_gradient(x))
    return y

  def get_config(self):
    return {**super().get_config(), "floor": self.floor}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ClipPixels(keras.layers.Layer):
  """Clips to [0, 255] with a straight-through gradient.

  The loss sees the pixels a user will see, and a pixel pushed past the range still gets
  the gradient that pulls it back (a sigmoid's saturated pixels get none, and stay stuck).
  """

  def call(self, x):
    return x + tf.stop_gradient(tf.clip_by_value(x, 0.0, 255.0) - x)


def _space_to_depth_taps(kernel_size, block):
  """taps[a, t, r, u] = 1 where output phase a reads kernel tap u from input phase r of block
  t of its window, in the space-to-depth form of a stride-1 convolution."""
  span = -(-(kernel_size + block - 1) // block)
  taps = np.zeros([block, span, block, kernel_size], np.float32)
  for a, t, r in itertools.product(range(block), range(span), range(block)):
    if 0 <= block * t + r - a < kernel_size:
      taps[a, t, r, block * t + r - a] = 1.0
  return taps


class _ConvBase(keras.layers.Layer):
  """The arguments ConvLayer and InceptionConv share, stored and serialized once."""

  def __init__(self, filters, kernel_size, strides=1, upsample=1, transpose=False, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.strides = int(strides)
    self.upsample = int(upsample)
    self.transpose = bool(transpose)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "upsample": self.upsample, "transpose": self.transpose}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvLayer(_ConvBase):
  """Reflection padding + convolution; the plain building block of Johnson's network.

  `upsample=2` doubles the resolution first by nearest-neighbour repetition (the
  checkerboard-free alternative to a transposed convolution). `transpose=True` makes the
  convolution a stride-`stride` transposed convolution instead (FastChi's upsampling).
  `space_to_depth` > 1 (inference copies: render_net.use_space_to_depth) runs a stride-1 conv
  in an equivalent form with the same weights, faster when it has few output channels.
  """

  def __init__(self, filters: int, kernel_size: int, strides: int = 1, upsample: int = 1,
               transpose: bool = False, space_to_depth: int = 1, **kwargs: Any) -> None:
    super().__init__(filters, kernel_size, strides, upsample, transpose, **kwargs)
    if self.transpose:
      # Output exactly stride x the input, as nearest upsampling + conv gives.
      self.conv = keras.layers.Conv2DTranspose(
          self.filters, self.kernel_size, strides=self.strides, padding="same", name="conv")
    else:
      self.pad = ReflectionPad2D(self.kernel_size // 2, name="pad")
      self.conv = keras.layers.Conv2D(
          self.filters, self.kernel_size, strides=self.strides, padding="valid", name="conv")
    self.up = NearestUpsample2D(self.upsample, name="up") if self.upsample > 1 else None
    # Run a stride-1 convolution on blocks of `space_to_depth` x `space_to_depth` pixels
    # (render_net.use_space_to_depth builds such a copy). See _space_to_depth_conv.
    self.space_to_depth = int(space_to_depth)

  def _conv_input_shape(self, input_shape):
    """The shape the convolution sees: after upsampling and padding."""
    shape = tuple(input_shape)
    if self.up is not None:
      shape = self.up.compute_output_shape(shape)
    if not self.transpose:
      shape = self.pad.compute_output_shape(shape)
    return shape

  def build(self, input_shape):
    self.conv.build(self._conv_input_shape(input_shape))

  def compute_output_shape(self, input_shape):
    # (given, Keras need not trace call() on placeholders to find it: ~100 graph ops each,
    # most of the time of building or loading a network)
    return tuple(self.conv.compute_output_shape(self._conv_input_shape(input_shape)))

  def call(self, x):
    if (self.space_to_depth > 1 and self.up is None and self.strides == 1
        and not self.transpose and self.kernel_size % 2 == 1):
      return self._space_to_depth_conv(x)
    if self.up is not None:
      x = self.up(x)
    if not self.transpose:
      x = self.pad(x)
    return self.conv(x)

  def _space_to_depth_conv(self, x):
    """pad -> conv as a convolution over blocks of b x b pixels (space_to_depth layout).

    The kernel becomes ceil((k + b - 1) / b)^2 blocks of b^2 x b^2 taps, zeros included: for
    a 9x9 kernel, 1.2x the FLOPs with b = 2 (1.8x with b = 4). It pays where the plain
    convolution wastes more: oneDNN computes output channels in groups of 16, so 3 output
    channels waste 80% of the work and b^2 x 3 = 12 waste 25%. Same result up to rounding.
    """
    b, k = self.space_to_depth, self.kernel_size
    taps = _space_to_depth_taps(k, b)
    span = taps.shape[1]
    kernel = tf.einsum("atru,bqvw,uwcd->tqrvcabd", taps, taps,
                       tf.cast(tf.convert_to_tensor(self.conv.kernel), x.dtype))
    kernel = tf.reshape(kernel, [span, span, b * b * x.shape[-1], b * b * self.filters])
    if _tflite_graph_on() and (span - 1) * b == 2 * (k // 2):
      # Sizes known before running (see tflite_graph): the caller's sides are multiples of
      # 4, and the padded ones of b.
      p = k // 2
      blocks = tf.nn.space_to_depth(_reflect_slices(x, p), b)
      return tf.nn.depth_to_space(self._block_conv(blocks, kernel, b), b)
    n, h, w, c = (_dim(x, axis) for axis in range(4))
    rows_b, cols_b = -(-h // b), -(-w // b)  # output blocks
    # One gather does the reflection padding and the space_to_depth: pixels in the order
    # (block row, block column, row in block, column in block).
    rows = tf.reshape(_reflect_index(h, k // 2, (rows_b + span - 1) * b), [-1, b])
    cols = tf.reshape(_reflect_index(w, k // 2, (cols_b + span - 1) * b), [-1, b])
    index = tf.reshape(rows[:, None, :, None] * w + cols[None, :, None, :], [-1])
    blocks = tf.reshape(tf.gather(tf.reshape(x, [n, h * w, c]), index, axis=1),
                        [n, rows_b + span - 1, cols_b + span - 1, b * b * c])
    y = tf.nn.depth_to_space(self._block_conv(blocks, kernel, b), b)  # phases to pixels
    if isinstance(h, int) and isinstance(w, int) and (h, w) == (rows_b * b, cols_b * b):
      return y
    return y[:, :h, :w, :]

  def _block_conv(self, blocks, kernel, b):
    y = tf.nn.conv2d(blocks, kernel, strides=1, padding="VALID")
    if self.conv.use_bias:
      y = tf.nn.bias_add(y, tf.tile(tf.cast(tf.convert_to_tensor(self.conv.bias), y.dtype),
                                    [b * b]))
    return y

  def get_config(self):
    return {**super().get_config(), "space_to_depth": self.space_to_depth}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InceptionConv(_ConvBase):
  """FastChi's shrunk convolution: 1x1 to C_in/k, spatial conv to C_out/k, 1x1 to C_out.

  The spatial convolution (same kernel, stride and upsampling as the plain ConvLayer it
  replaces) works on k times fewer channels on both sides, which cuts its parameters and
  FLOPs by about k^2. Nearest upsampling commutes with a 1x1 convolution, so it is applied
  after the first 1x1: same result, k times less work at the upsampled resolution.
  """

  def __init__(self, filters: int, kernel_size: int, strides: int = 1, upsample: int = 1,
               transpose: bool = False, shrink: int = 2, space_to_depth: int = 1,
               **kwargs: Any) -> None:
    super().__init__(filters, kernel_size, strides, upsample, transpose, **kwargs)
    self.shrink = int(shrink)
    if self.filters % self.shrink:
      raise ValueError(f"filters={self.filters} is not divisible by shrink={self.shrink}")
    self.spatial = ConvLayer(self.filters // self.shrink, self.kernel_size, self.strides,
                             self.upsample, self.transpose, space_to_depth, name="spatial")
    self.expand = keras.layers.Conv2D(self.filters, 1, name="expand")

  def build(self, input_shape):
    channels = input_shape[-1]
    if channels % self.shrink:
      raise ValueError(f"input channels={channels} are not divisible by shrink={self.shrink}")
    self.reduce = keras.layers.Conv2D(channels // self.shrink, 1, name="reduce")
    shape = tuple(input_shape)
    self.reduce.build(shape)
    shape = self.reduce.compute_output_shape(shape)
    self.spatial.build(shape)
    self.expand.build(shape[:-1] + (self.filters // self.shrink,))

  def compute_output_shape(self, input_shape):  # (see ConvLayer's)
    shape = self.spatial.compute_output_shape(
        tuple(input_shape[:-1]) + (input_shape[-1] // self.shrink,))
    return tuple(shape[:-1]) + (self.filters,)

  def call(self, x):
    return self.expand(self.spatial(self.reduce(x)))

  def get_config(self):
    return {**super().get_config(), "shrink": self.shrink,
            "space_to_depth": self.spatial.space_to_depth}


def load_model(path: str, **kwargs: Any) -> keras.Model:
  """`keras.saving.load_model` for a .keras file of ours (safe_mode=True by default): this
  module's import registers the network's layers, which Keras must know by name. Reached as
  `fastchi_tf.load_model`, so `import fastchi_tf` stays free of TensorFlow."""
  return keras.saving.load_model(path, **kwargs)
