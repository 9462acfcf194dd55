"""Temporal stability without optical flow: the compound regularization of Wang et al. 2020.

From each training crop x a second frame x' is made by warping x with a random smooth flow
F (a coarse grid of random displacements, upsampled and blurred, plus a small global shift)
and adding slight Gaussian noise. A stable network commutes with the motion: its output on x'
should be its output on x, warped the same way. The loss penalizes

    mean over valid p of |warp(f(x), F)(p) - f(x')(p)|^2,

where warp(y, F)(p) = y(p + F(p)) (bilinear) and p is valid when p + F(p) lies inside the
frame. The flow is generated, so it is exact: no optical flow at training or inference. With
`max_shift` and `local_shift` at 0 the term is the noise-only variant, f(x) against
f(x + n). The convention of `warp` is that of `flicker.warp`, which measures the result.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class TemporalSettings:
  """How the second frame is made (pixels of the training crop, values in [0, 255])."""
  max_shift: float = 4.0  # global shift, uniform in [-max_shift, max_shift] per axis
  local_shift: float = 2.0  # std of the coarse grid's displacements
  grid: int = 4  # the coarse grid is grid x grid
  blur: float = 0.1  # Gaussian blur of the upsampled flow, as a fraction of the crop side
  noise: float = 2.0  # std of the added Gaussian noise


def warp(images: tf.Tensor, flow: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """Bilinear samples images[b] at p + flow[b](p): (warped, valid mask [b, h, w, 1]).

  Differentiable with respect to `images`. Samples outside the frame take the nearest edge
  pixel and are marked invalid.
  """
  shape = tf.shape(images)
  b, h, w = shape[0], shape[1], shape[2]
  ys, xs = tf.meshgrid(tf.range(h, dtype=flow.dtype), tf.range(w, dtype=flow.dtype),
                       indexing="ij")
  x = xs[None] + flow[..., 0]
  y = ys[None] + flow[..., 1]
  hf, wf = tf.cast(h - 1, flow.dtype), tf.cast(w - 1, flow.dtype)
  valid = (x >= 0) & (x <= wf) & (y >= 0) & (y <= hf)
  x, y = tf.clip_by_value(x, 0.0, wf), tf.clip_by_value(y, 0.0, hf)
  x0, y0 = tf.floor(x), tf.floor(y)
  fx, fy = (x - x0)[..., None], (y - y0)[..., None]
  x0i, y0i = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
  x1i, y1i = tf.minimum(x0i + 1, w - 1), tf.minimum(y0i + 1, h - 1)
  batch = tf.broadcast_to(tf.range(b)[:, None, None], tf.shape(x0i))

  def at(yi, xi):
    return tf.gather_nd(images, tf.stack([batch, yi, xi], axis=-1))

  fx, fy = tf.cast(fx, images.dtype), tf.cast(fy, images.dtype)
  top = at(y0i, x0i) * (1 - fx) + at(y0i, x1i) * fx
  bottom = at(y1i, x0i) * (1 - fx) + at(y1i, x1i) * fx
  return top * (1 - fy) + bottom * fy, tf.cast(valid, images.dtype)[..., None]


def _gaussian_blur(flow: tf.Tensor, sigma: tf.Tensor, radius: int) -> tf.Tensor:
  taps = tf.range(-radius, radius + 1, dtype=tf.float32)
  kernel = tf.exp(-0.5 * (taps / tf.maximum(sigma, 1e-3)) ** 2)
  kernel /= tf.reduce_sum(kernel)
  channels = flow.shape[-1]
  rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
  cols = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
  padded = tf.pad(flow, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
  out = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
  return tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "VALID")


def random_flow(seed: tf.Tensor, batch: int, height: int, width: int,
                settings: TemporalSettings = TemporalSettings()) -> tf.Tensor:
  """A smooth random flow [batch, height, width, 2] (dx, dy), a pure function of `seed`
  (a [2] int tensor), so resumed and distributed runs draw the same flows."""
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  coarse = tf.random.stateless_normal([batch, settings.grid, settings.grid, 2], seeds[0],
                                      stddev=settings.local_shift)
  local = tf.image.resize(coarse, [height, width], method="bilinear")
  radius = max(1, int(round(2 * settings.blur * min(height, width))))
  local = _gaussian_blur(local, tf.constant(settings.blur * min(height, width), tf.float32),
                         min(radius, (min(height, width) - 1) // 2))
  shift = tf.random.stateless_uniform([batch, 1, 1, 2], seeds[1], -settings.max_shift,
                                      settings.max_shift)
  return local + shift


def second_frames(images: tf.Tensor, seed: tf.Tensor,
                  settings: TemporalSettings = TemporalSettings(),
                  total: Optional[int] = None, offset: Any = 0,
                  ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """(x' = warp(x, F) + noise, F, valid mask) for a batch of crops x in [0, 255].

  For one replica's share of a global batch, `total` is the global batch and `offset` the
  position of this share: flows and noise are drawn for the whole batch and sliced, so any
  number of replicas draws what one device would.
  """
  b, h, w, c = images.shape
  total = total or b
  flow = random_flow(seed, total, h, w, settings)[offset:offset + b]
  moved, valid = warp(images, flow)
  noise_seed = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 7)
  noise = tf.random.stateless_normal([total, h, w, c], noise_seed, stddev=settings.noise,
                                     dtype=images.dtype)[offset:offset + b]
  return tf.clip_by_value(moved + noise, 0.0, 255.0), flow, valid


def temporal_loss(stylized: tf.Tensor, stylized_second: tf.Tensor, flow: tf.Tensor,
                  valid: tf.Tensor) -> tf.Tensor:
  """Per-example mean squared difference of warp(f(x), F) and f(x') over valid pixels, on
  [0, 1] values: [batch]."""
  moved, inside = warp(tf.cast(stylized, tf.float32) / 255.0, flow)
  mask = valid * inside
  diff = tf.square(moved - tf.cast(stylized_second, tf.float32) / 255.0) * mask
  count = tf.reduce_sum(mask, axis=[1, 2, 3]) * 3.0
  return tf.reduce_sum(diff, axis=[1, 2, 3]) / tf.maximum(count, 1.0)
