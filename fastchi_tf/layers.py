"""Serializable Keras layers of the render networks.

Every layer here is registered under the package "fastchi", so a model saved as `.keras` loads
back with `safe_mode=True` (no Lambda layers anywhere).
"""

import keras
import tensorflow as tf

_PACKAGE = "fastchi"


def _dim(x, axis):
  """Static size of `axis` when known (keeps graphs shape-static), else the dynamic one."""
  size = x.shape[axis]
  return size if size is not None else tf.shape(x)[axis]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReflectionPad2D(keras.layers.Layer):
  """Pads height and width by `padding` pixels on each side, mirroring the border."""

  def __init__(self, padding, **kwargs):
    super().__init__(**kwargs)
    self.padding = int(padding)

  def call(self, x):
    p = self.padding
    return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

  def compute_output_shape(self, input_shape):
    b, h, w, c = input_shape
    grow = lambda d: None if d is None else d + 2 * self.padding
    return (b, grow(h), grow(w), c)

  def get_config(self):
    return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InstanceNorm(keras.layers.Layer):
  """Affine instance normalization (Ulyanov et al. 2016) over height and width.

  Statistics come from each image alone, which is what makes the render network
  style-consistent across a batch; epsilon follows PyTorch's InstanceNorm2d.
  """

  def __init__(self, epsilon=1e-5, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = float(epsilon)
    # Tiled inference (fastchi_tf.tiling) records whole-image statistics in one pass and
    # imposes them on every tile in the next, so that tiles agree. Not serialized.
    self.record_statistics = False
    self.recorded_statistics = None
    self.fixed_statistics = None

  def build(self, input_shape):
    channels = input_shape[-1]
    self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
    self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

  def call(self, x):
    if self.fixed_statistics is not None:
      mean, variance = self.fixed_statistics
    else:
      mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    if self.record_statistics:
      self.recorded_statistics = (mean, variance)
    inv = tf.math.rsqrt(variance + self.epsilon) * self.gamma
    return x * inv + (self.beta - mean * inv)

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NearestUpsample2D(keras.layers.Layer):
  """Nearest-neighbour upsampling by an integer factor.

  Unlike keras.layers.UpSampling2D on dynamic shapes, it keeps the channel count static,
  which TFLite's converter needs for the convolution that follows.
  """

  def __init__(self, factor=2, **kwargs):
    super().__init__(**kwargs)
    self.factor = int(factor)

  def call(self, x):
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

  def __init__(self, multiple=4, minimum=8, **kwargs):
    super().__init__(**kwargs)
    self.multiple = int(multiple)
    self.minimum = int(minimum)

  def _target(self, size):
    size = tf.maximum(size, self.minimum)
    return (size + self.multiple - 1) // self.multiple * self.multiple

  def call(self, x):
    for axis in (1, 2):
      size = tf.shape(x)[axis]
      extra = self._target(size) - size
      before = extra // 2
      index = tf.clip_by_value(tf.range(-before, size + extra - before), 0, size - 1)
      x = tf.gather(x, index, axis=axis)
    return x

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
    h, w = tf.shape(reference)[1], tf.shape(reference)[2]
    top = (tf.shape(padded)[1] - h) // 2
    left = (tf.shape(padded)[2] - w) // 2
    return padded[:, top:top + h, left:left + w, :]

  def compute_output_shape(self, input_shapes):
    padded, reference = input_shapes
    return (padded[0], reference[1], reference[2], padded[3])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvLayer(keras.layers.Layer):
  """Reflection padding + convolution; the plain building block of Johnson's network.

  `upsample=2` doubles the resolution first by nearest-neighbour repetition (the
  checkerboard-free alternative to a transposed convolution). `transpose=True` makes the
  convolution a stride-`stride` transposed convolution instead (FastChi's upsampling).
  """

  def __init__(self, filters, kernel_size, strides=1, upsample=1, transpose=False, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.strides = int(strides)
    self.upsample = int(upsample)
    self.transpose = bool(transpose)
    if self.transpose:
      # Output exactly stride x the input, as nearest upsampling + conv gives.
      self.conv = keras.layers.Conv2DTranspose(
          self.filters, self.kernel_size, strides=self.strides, padding="same", name="conv")
    else:
      self.pad = ReflectionPad2D(self.kernel_size // 2, name="pad")
      self.conv = keras.layers.Conv2D(
          self.filters, self.kernel_size, strides=self.strides, padding="valid", name="conv")
    self.up = NearestUpsample2D(self.upsample, name="up") if self.upsample > 1 else None

  def build(self, input_shape):
    shape = tuple(input_shape)
    if self.up is not None:
      shape = self.up.compute_output_shape(shape)
    if not self.transpose:
      shape = self.pad.compute_output_shape(shape)
    self.conv.build(shape)

  def call(self, x):
    if self.up is not None:
      x = self.up(x)
    if not self.transpose:
      x = self.pad(x)
    return self.conv(x)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "upsample": self.upsample, "transpose": self.transpose}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InceptionConv(keras.layers.Layer):
  """FastChi's shrunk convolution: 1x1 to C_in/k, spatial conv to C_out/k, 1x1 to C_out.

  The spatial convolution (same kernel, stride and upsampling as the plain ConvLayer it
  replaces) works on k times fewer channels on both sides, which cuts its parameters and
  FLOPs by about k^2. Nearest upsampling commutes with a 1x1 convolution, so it is applied
  after the first 1x1: same result, k times less work at the upsampled resolution.
  """

  def __init__(self, filters, kernel_size, strides=1, upsample=1, transpose=False, shrink=2,
               **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.strides = int(strides)
    self.upsample = int(upsample)
    self.transpose = bool(transpose)
    self.shrink = int(shrink)
    if self.filters % self.shrink:
      raise ValueError(f"filters={self.filters} is not divisible by shrink={self.shrink}")
    self.spatial = ConvLayer(self.filters // self.shrink, self.kernel_size, self.strides,
                             self.upsample, self.transpose, name="spatial")
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

  def call(self, x):
    return self.expand(self.spatial(self.reduce(x)))

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "upsample": self.upsample, "transpose": self.transpose,
            "shrink": self.shrink}
