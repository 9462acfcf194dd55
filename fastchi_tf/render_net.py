"""Render (image transformation) networks: Johnson et al.'s and FastChi's inception variant.

Layer plan (Johnson et al. 2016, supplementary): c9s1-W, d2W, d4W, five residual blocks of 4W,
u2W, uW, c9s1-3, with W = `width` (32 in the paper); the number of residual blocks is a
setting (`residual_blocks`, 5 by default). Instance normalization and ReLU follow
every convolution but the last; the second convolution of a residual block has no ReLU.
"""

from typing import Callable, Optional, Sequence

import keras
import numpy as np

from fastchi_tf import layers
from fastchi_tf.light import export_names

VARIANTS = ("original", "inception")
UPSAMPLES = ("nearest", "transpose")
OUTPUTS = ("sigmoid", "tanh")
TRUNK_NORMS = ("instance", "affine")
NUM_RESIDUAL_BLOCKS = 5  # Johnson et al.'s and FastChi's
COLOUR_NORM = "colour_norm"  # the colour skip's layer (build_render_net's colour_skip)


def check_args(variant: str = "original", width: int = 32, shrink: int = 2,
               upsample: str = "nearest", styles: Optional[Sequence[str]] = None,
               output_activation: str = "sigmoid",
               residual_blocks: int = NUM_RESIDUAL_BLOCKS, trunk_norm: str = "instance",
               tanh_gradient_floor: float = 0.0, colour_skip: bool = False) -> None:
  """Raises ValueError naming a bad argument of `build_render_net` and the valid choices."""
  if styles is not None:
    if len(styles) < 2:
      raise ValueError(f"a multi-style network needs at least 2 styles, got {list(styles)}")
    if len(set(styles)) != len(styles) or not all(styles):
      raise ValueError(f"style names must be distinct and non-empty, got {list(styles)}")
  if variant not in VARIANTS:
    raise ValueError(f"unknown render network variant {variant!r}; choose one of {VARIANTS}")
  if upsample not in UPSAMPLES:
    raise ValueError(f"unknown upsample {upsample!r}; choose one of {UPSAMPLES}")
  if output_activation not in OUTPUTS:
    raise ValueError(
        f"unknown output activation {output_activation!r}; choose one of {OUTPUTS}")
  if trunk_norm not in TRUNK_NORMS:
    raise ValueError(f"unknown trunk norm {trunk_norm!r}; choose one of {TRUNK_NORMS}")
  if not 0.0 <= tanh_gradient_floor < 1.0:
    raise ValueError(f"tanh_gradient_floor must be in [0, 1), got {tanh_gradient_floor!r}")
  if tanh_gradient_floor and output_activation != "tanh":
    raise ValueError("tanh_gradient_floor needs output_activation='tanh', got "
                     f"{output_activation!r}")
  if colour_skip and output_activation != "tanh":
    raise ValueError("colour_skip needs output_activation='tanh' (the head adds to the "
                     f"recoloured photo), got {output_activation!r}")
  if not isinstance(width, int) or width < 1:
    raise ValueError(f"width must be a positive integer, got {width!r}")
  if not isinstance(residual_blocks, int) or residual_blocks < 1:
    raise ValueError(f"residual_blocks must be a positive integer, got {residual_blocks!r}")
  if variant == "inception":
    if not isinstance(shrink, int) or shrink < 1:
      raise ValueError(f"shrink must be a positive integer, got {shrink!r}")
    if width % shrink:
      raise ValueError(
          f"width={width} must be divisible by shrink={shrink} for the inception network")


def build_render_net(variant: str = "original", width: int = 32, shrink: int = 2,
                     upsample: str = "nearest", styles: Optional[Sequence[str]] = None,
                     output_activation: str = "sigmoid",
                     residual_blocks: int = NUM_RESIDUAL_BLOCKS,
                     trunk_norm: str = "instance", tanh_gradient_floor: float = 0.0,
                     colour_skip: bool = False, name: Optional[str] = None) -> keras.Model:
  """Builds a render network mapping RGB in [0, 255] to RGB in [0, 255], any size.

  Args:
    variant: "original" (Johnson et al.) or "inception" (FastChi: inner convolutions become
      1x1 -> spatial at C/k -> 1x1; the 9x9 convolutions next to RGB stay plain).
    width: filters of the first convolution; the network uses 1, 2 and 4 times it.
    shrink: k, the channel reduction of the inception convolutions (ignored for "original").
    upsample: "nearest" (x2 nearest-neighbour then conv) or "transpose" (transposed conv).
    styles: names of N >= 2 styles for a multi-style network (conditional instance
      normalization); None for a single-style one.
    output_activation: how the last convolution becomes pixels: "sigmoid" (255 * sigmoid)
      or "tanh" (Johnson et al.'s 127.5 + 150 * tanh, clipped to [0, 255] with a straight-through
      gradient, so that no pixel goes dead at the range's ends).
    residual_blocks: residual blocks at the lowest resolution (5 in the paper); fewer run
      faster and trace faster (the tests use 1).
    trunk_norm: what follows the convolutions of the residual blocks and the upsampling:
      "instance" normalization, or "affine", a scale and shift per style with no per-image
      statistics (layers.StyleAffine), which leaves nothing for a droplet to game. The
      three convolutions from RGB keep instance normalization either way, so the trunk
      still sees each photo at a normalized contrast.
    tanh_gradient_floor: with the tanh output, the least gradient its saturated pixels
      pass back in training (layers.Tanh); 0 is plain tanh.
    colour_skip: the output is the photo with each channel moved to the style's mean and
      spread (an InstanceNorm on the pixels, "colour_norm", whose rows set_colour_rows
      fills from the paintings), plus 150 * tanh of the last convolution, instead of
      127.5 + 150 * tanh. Needs the tanh output.
    name: model name; defaults to the variant.

  Returns:
    A functional keras.Model; its output has exactly the input's height and width. A
    single-style model takes the image alone; a multi-style one `[image, style]`, style
    float [batch, N] weights (layers.StyleWeights makes them a convex mix).
  """
  check_args(variant, width, shrink, upsample, styles, output_activation, residual_blocks,
             trunk_norm, tanh_gradient_floor, colour_skip)
  num_styles = len(styles) if styles else 1

  def conv(x, filters, kernel, strides=1, up=1, prefix="", relu=True, norm=True, plain=False,
           trunk=False):
    transpose = up > 1 and upsample == "transpose"
    kwargs = dict(strides=up if transpose else strides, upsample=1 if transpose else up,
                  transpose=transpose, name=f"{prefix}conv")
    if variant == "inception" and not plain:
      x = layers.InceptionConv(filters, kernel, shrink=shrink, **kwargs)(x)
    else:
      x = layers.ConvLayer(filters, kernel, **kwargs)(x)
    if norm:
      kind = layers.StyleAffine if trunk and trunk_norm == "affine" else layers.InstanceNorm
      norm_layer = kind(num_styles=num_styles, name=f"{prefix}norm")
      x = norm_layer(x) if num_styles == 1 else norm_layer([x, mix])
    if relu:
      x = keras.layers.ReLU(name=f"{prefix}relu")(x)
    return x

  image = keras.Input(shape=(None, None, 3), name="image")
  if num_styles > 1:
    style = keras.Input(shape=(num_styles,), name="style")
    mix = layers.StyleWeights(styles, name="style_weights")(style)
  x = layers.PadToMultiple(multiple=export_names.MULTIPLE, minimum=export_names.MINIMUM,
                           name="pad_to_multiple")(image)
  x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit")(x)
  if colour_skip:
    # The photo in the painting's colours, where L-BFGS found the objective's best optima
    # (experiments/results/objective_calibration): a network trained to produce whole
    # pictures found one average tint instead (docs/styles_history.md, recipe ghiasi16).
    # An InstanceNorm, so that tiling, exports and add-style treat it like the others.
    colour_norm = layers.InstanceNorm(num_styles=num_styles, name=COLOUR_NORM)
    base = colour_norm(x) if num_styles == 1 else colour_norm([x, mix])
    base = keras.layers.Rescaling(255.0, name="base_pixels")(base)
  x = conv(x, width, 9, prefix="c1_", plain=True)
  x = conv(x, 2 * width, 3, strides=2, prefix="d1_")
  x = conv(x, 4 * width, 3, strides=2, prefix="d2_")
  for i in range(1, residual_blocks + 1):
    y = conv(x, 4 * width, 3, prefix=f"r{i}a_", trunk=True)
    y = conv(y, 4 * width, 3, prefix=f"r{i}b_", relu=False, trunk=True)
    x = keras.layers.Add(name=f"r{i}_add")([x, y])
  x = conv(x, 2 * width, 3, up=2, prefix="u1_", trunk=True)
  x = conv(x, width, 3, up=2, prefix="u2_", trunk=True)
  x = conv(x, 3, 9, prefix="c2_", relu=False, norm=False, plain=True)
  if output_activation == "sigmoid":
    x = keras.layers.Activation("sigmoid", name="squash")(x)
    x = keras.layers.Rescaling(255.0, name="to_pixels")(x)
  else:
    # Saturated sigmoid pixels get almost no gradient: a trained network's bright blobs
    # stayed stuck at 255 and a stronger style weight collapsed into black and white.
    x = (layers.Tanh(tanh_gradient_floor, name="squash")(x) if tanh_gradient_floor
         else keras.layers.Activation("tanh", name="squash")(x))
    if colour_skip:
      x = keras.layers.Rescaling(150.0, name="to_pixels")(x)
      x = keras.layers.Add(name="add_base")([base, x])
    else:
      x = keras.layers.Rescaling(150.0, offset=127.5, name="to_pixels")(x)
    x = layers.ClipPixels(name="clip")(x)
  x = layers.CropToReference(name="crop")([x, image])
  inputs = image if num_styles == 1 else [image, style]
  return keras.Model(inputs, x, name=name or f"render_{variant}")


def has_colour_skip(model: keras.Model) -> bool:
  """Whether a network `build_render_net` made has the colour skip."""
  return any(layer.name == COLOUR_NORM for layer in model.layers)


def painting_colours(painting) -> tuple:
  """(mean, standard deviation) of each RGB channel of a painting [h, w, 3] in [0, 255], on
  the [0, 1] scale the colour skip works on: its row of colour_norm's shift and scale."""
  pixels = np.asarray(painting, np.float64).reshape(-1, 3) / 255.0
  return pixels.mean(0).astype(np.float32), pixels.std(0).astype(np.float32)


def set_colour_rows(model: keras.Model, paintings: Sequence, first: int = 0) -> None:
  """Fills the colour skip's rows `first`, `first` + 1, ... from `paintings` (one per style,
  [h, w, 3] in [0, 255]); a network without the skip is left as it is."""
  if not has_colour_skip(model):
    return
  layer = model.get_layer(COLOUR_NORM)
  gamma, beta = (np.array(w) for w in layer.get_weights())
  for k, painting in enumerate(paintings):
    mean, std = painting_colours(painting)
    if gamma.ndim == 1:  # a single-style network
      gamma, beta = std, mean
    else:
      gamma[first + k], beta[first + k] = std, mean
  layer.set_weights([gamma, beta])


def residual_blocks(model: keras.Model) -> int:
  """The number of residual blocks of a network `build_render_net` made."""
  names = {layer.name for layer in model.layers}
  count = 0
  while f"r{count + 1}_add" in names:
    count += 1
  return count


def style_names(model: keras.Model) -> tuple:
  """The styles of a multi-style network, in order; () for a single-style one."""
  for layer in model.layers:
    if isinstance(layer, layers.StyleWeights):
      return layer.names
  return ()


def use_space_to_depth(model: keras.Model, block: int = 2,
                       which: Callable[[layers.ConvLayer], bool] = lambda conv:
                       conv.filters < 16) -> keras.Model:
  """For CPU inference (the SavedModel export and KerasStylizer use it): a copy of `model`
  whose convolutions to fewer than 16 channels (the 9x9 one to RGB; or those `which` picks)
  run on blocks of `block` x `block` pixels; block=1 plain again.

  oneDNN computes output channels in groups of 16, so the 3-channel convolution wastes 80% of
  its work. With block 2 it has 12 channels (and a 5x5 kernel over 4x the input channels):
  1.2x the FLOPs (zero taps, which count_flops then counts) but faster on CPUs (see
  experiments/bench/bench_inference). Same weights, same result up to rounding. Other layers are
  shared with `model`, which is left as it was.
  """
  rebuilt = []

  def clone(layer):
    conv = layer.spatial if isinstance(layer, layers.InceptionConv) else layer
    if not isinstance(conv, layers.ConvLayer) or not which(conv):
      return layer
    new = type(layer).from_config({**layer.get_config(), "space_to_depth": int(block)})
    rebuilt.append((layer, new))
    return new

  copy = keras.models.clone_model(model, clone_function=clone)
  for old, new in rebuilt:
    new.set_weights(old.get_weights())
  return copy
