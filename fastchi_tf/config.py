"""Typed, documented configurations of a training run, saved as `config.json` in its folder.

Imports no TensorFlow (the network checks of `validate` import it when called), so a tool can
check its flags and paths before paying for, and hearing from, TensorFlow's start.
"""

import dataclasses
import json
import os
import sys
from typing import Optional, Tuple

from fastchi_tf import io_utils

STRATEGIES = ("default", "mirrored", "multi_worker")
# The choices of loss_net.NAMES, render_net.VARIANTS / UPSAMPLES and losses.REDUCTIONS, here
# so that flags can offer them without importing TensorFlow (a test keeps them equal).
LOSS_NETWORKS = ("vgg19", "vgg16", "tiny_yolo")
RENDER_VARIANTS = ("original", "inception")
UPSAMPLES = ("nearest", "transpose")
REDUCTIONS = ("mean", "sum")
NAMED_WEIGHTS = ("imagenet", "hed", "random")  # anything else is a weights file

FINITE = sys.float_info.max  # upper bound of the settings that take any finite value
# Inclusive ranges of the numeric settings; tools/train.py bounds its flags with them.
RANGES = {
    "render.width": (1, 1024),
    "render.shrink": (1, 64),
    "loss.content_weight": (0.0, FINITE),
    "loss.style_weight": (0.0, FINITE),
    "loss.tv_weight": (0.0, FINITE),
    "loss.seed": (0, 2**31 - 1),
    "data.image_size": (16, 4096),  # VGG's four poolings need 16 pixels
    "data.style_size": (16, 8192),
    "batch_size": (1, 4096),
    "learning_rate": (0.0, 1.0),  # and above 0
    "steps": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "summary_every": (1, 10**9),
    "cpu_devices": (1, 256),
    "seed": (0, 2**31 - 1),  # data seeds add to it in int64; Keras takes up to 2**32 - 1
}
# Settings whose flag is not named after the field.
FLAG_NAMES = {"render.variant": "network", "loss.network": "loss_net",
              "loss.weights": "loss_weights", "loss.reduction": "loss_reduction",
              "loss.seed": "seed"}

# Files a run writes directly in its folder (besides checkpoints and summaries).
RUN_FILES = ("config.json", "losses.csv", "loss_curve.png", "checkpoint", ".lock")


def flag_name(key):
  """"loss.style_weight" -> "style_weight": the tools/train.py flag of a setting."""
  return FLAG_NAMES.get(key, key.split(".")[-1])


@dataclasses.dataclass
class RenderConfig:
  """The render network (see `render_net.build_render_net`)."""
  variant: str = "inception"  # "original" (Johnson) or "inception" (FastChi)
  width: int = 32  # base number of filters; FastChi's own code used 16
  shrink: int = 2  # k of the inception convolutions
  upsample: str = "nearest"  # "nearest" + conv, or "transpose" (FastChi; checkerboards)


@dataclasses.dataclass
class LossConfig:
  """The frozen loss network and the weights of FastChi's equation (1)."""
  network: str = "vgg19"
  # "imagenet", "hed" (offline VGG16), "random", a .h5 path (VGG) or a .weights path
  # (Darknet, for tiny_yolo)
  weights: str = "imagenet"
  content_layers: Optional[Tuple[str, ...]] = None  # None: the network's defaults
  style_layers: Optional[Tuple[str, ...]] = None
  content_weight: float = 1.0  # alpha
  style_weight: float = 1.0  # beta; Gram matrices are normalized by h * w * c
  tv_weight: float = 1e-4  # gamma
  reduction: str = "mean"  # "mean" (FastChi's expectation) or "sum" (Johnson)
  seed: int = 0  # of the "random" weights


@dataclasses.dataclass
class DataConfig:
  """Training images: a folder of images, or a tensorflow-datasets name."""
  train_data: str = ""  # folder searched recursively, or "tfds:coco/2014"
  tfds_data_dir: Optional[str] = None
  image_size: int = 256  # square training crops
  style_image: str = ""
  style_size: Optional[int] = None  # longer side of the style image; None keeps its size
  # Not settings: training records its inputs by content here, so that resuming notices a
  # changed style image or training set whatever their paths say (see check_resumable).
  style_sha256: Optional[str] = None  # of the style image file
  train_data_sha256: Optional[str] = None  # of a folder's file names and sizes


@dataclasses.dataclass
class TrainConfig:
  """A whole training run."""
  model_dir: str = ""
  render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
  loss: LossConfig = dataclasses.field(default_factory=LossConfig)
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  batch_size: int = 4  # global, shared by all replicas
  learning_rate: float = 1e-3  # Adam
  steps: int = 40000  # about 2 epochs of COCO train2014 at batch 4
  checkpoint_every: int = 1000
  summary_every: int = 100
  strategy: str = "default"
  devices: Optional[Tuple[str, ...]] = None  # GPU indices to mirror over; None: all
  cpu_devices: int = 1  # split the CPU into this many logical devices
  seed: int = 0
  deterministic: bool = False  # deterministic ops: slower, but runs repeat bit for bit
  # float16 compute with float32 variables and losses, and loss scaling (for GPUs)
  mixed_precision: bool = False

  def check(self):
    """Raises ValueError naming the first bad setting or path; needs no TensorFlow.

    Everything `validate` checks except the render and loss networks' own arguments.
    """
    self._check_settings()
    self._check_paths()

  def validate(self):
    """Raises ValueError naming the first impossible or contradictory setting or path."""
    self.check()
    # Imported here: they import TensorFlow.
    from fastchi_tf import loss_net  # pylint: disable=g-import-not-at-top
    from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
    render_net._check_args(self.render.variant, self.render.width, self.render.shrink,
                           self.render.upsample)
    loss_net.check_args(self.loss.network, self.loss.weights, self.loss.content_layers,
                        self.loss.style_layers)

  def _check_settings(self):
    if not self.model_dir:
      raise ValueError("--model_dir is required")
    if not self.data.style_image:
      raise ValueError("--style_image is required")
    if not self.data.train_data:
      raise ValueError("--train_data is required")
    for key, (low, high) in RANGES.items():
      value = _get(self, key)
      if value is None and key == "data.style_size":
        continue
      # Written so that NaN fails too.
      if not (isinstance(value, (int, float)) and low <= value <= high):
        span = f"at least {low} and finite" if high == FINITE else f"from {low} to {high}"
        raise ValueError(f"--{flag_name(key)} must be {span}, got {value}")
    if not self.learning_rate > 0:
      raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
    if self.loss.reduction not in REDUCTIONS:
      raise ValueError(f"unknown loss reduction {self.loss.reduction!r}; "
                       f"choose one of {REDUCTIONS}")
    if self.strategy not in STRATEGIES:
      raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
    if self.loss.weights == "hed" and self.loss.network != "vgg16":
      raise ValueError("--loss_weights=hed is a VGG16 backbone: use --loss_net=vgg16")
    if self.devices and self.strategy != "mirrored":
      raise ValueError(f"--devices needs --strategy=mirrored, not {self.strategy!r}")
    if self.devices and self.cpu_devices > 1:
      raise ValueError("--devices (GPUs) and --cpu_devices (logical CPUs) exclude each other")
    for device in self.devices or ():
      if not str(device).isdigit():
        raise ValueError(f"--devices takes GPU indices such as 0,1; got {device!r}")

  def _check_paths(self):
    """Each path of the right kind; the run's folder neither inside its data nor an input."""
    d = self.data
    if not os.path.exists(d.style_image):
      raise ValueError(f"style image not found: {d.style_image}")
    if os.path.isdir(d.style_image):
      raise ValueError(f"style image {d.style_image} is a folder, not an image file")
    folder_data = not d.train_data.startswith("tfds:")
    if folder_data:
      _check_folder(d.train_data, "training data")
    elif d.tfds_data_dir and os.path.exists(d.tfds_data_dir):
      _check_folder(d.tfds_data_dir, "--tfds_data_dir")
    weights_file = self.loss.weights not in NAMED_WEIGHTS
    if weights_file and os.path.isdir(self.loss.weights):
      raise ValueError(f"loss network weights {self.loss.weights} is a folder, not a file")
    if os.path.exists(self.model_dir) and not os.path.isdir(self.model_dir):
      raise ValueError(f"--model_dir {self.model_dir} is a file, not a folder")
    existing = os.path.abspath(self.model_dir)
    while not os.path.exists(existing):
      existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
      raise ValueError(f"cannot create --model_dir {self.model_dir}: {existing} is a file")
    if folder_data and io_utils.is_within(self.model_dir, d.train_data):
      raise ValueError(f"--model_dir {self.model_dir} lies inside --train_data {d.train_data}: "
                       "the run would train on its own outputs; choose a folder outside it")
    inputs = [d.style_image] + ([self.loss.weights] if weights_file else [])
    io_utils.check_not_inputs(
        [self.model_dir] + [os.path.join(self.model_dir, n) for n in RUN_FILES], inputs)

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d):
    d = dict(d)
    nested = {"render": RenderConfig, "loss": LossConfig, "data": DataConfig}
    for key, kind in nested.items():
      if key in d:
        d[key] = _tuples(kind(**d[key]))
    return _tuples(cls(**d))


def _check_folder(path, what):
  if not os.path.exists(path):
    raise ValueError(f"{what} folder not found: {path}")
  if not os.path.isdir(path):
    raise ValueError(f"{what} {path} is a file, not a folder")


def _get(config, key):
  for part in key.split("."):
    config = getattr(config, part)
  return config


def _tuples(config):
  """JSON turns tuples into lists; turn them back so configs compare equal."""
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if isinstance(value, list):
      setattr(config, field.name, tuple(value))
  return config


def _flatten(config, prefix=""):
  """{"loss.style_weight": 1.0, ...}: every setting under its dotted name."""
  flat = {}
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if dataclasses.is_dataclass(value):
      flat.update(_flatten(value, f"{prefix}{field.name}."))
    else:
      flat[prefix + field.name] = value
  return flat


# Settings that change what a checkpoint holds: a resumed run must agree on them.
# (mixed precision adds a loss scale and wraps the optimizer in the checkpoint)
ARCHITECTURE_FIELDS = ("render", "mixed_precision")
# Settings a resumed run may change freely: how long it runs and how often it saves, how its
# folder is spelled, and how the devices share the global batch (the maths stays the same,
# up to rounding). Every other setting changes what the run learns (loss network, weights,
# layers and loss weights, image and style sizes, optimizer, batch, data, seed): resuming
# with another value needs `allow_changes`.
FREE_FIELDS = ("model_dir", "steps", "checkpoint_every", "summary_every", "strategy",
               "devices", "cpu_devices", "deterministic", "data.tfds_data_dir")
# Inputs compared by content when both runs recorded it, so that a moved file is no change
# and the same path with other content is; by path for runs that recorded none.
_BY_CONTENT = {"data.style_image": ("data.style_sha256", "style image"),
               "data.train_data": ("data.train_data_sha256", "training data")}


def _show(value):
  if value is None:
    return "default"
  if isinstance(value, tuple):
    return ",".join(map(str, value))
  return str(value)


def changed_settings(saved, current):
  """What `current` changes in what the run `saved` learns, as readable strings.

  Architecture changes are `check_resumable`'s; free settings are not listed.
  """
  old, new = _flatten(saved), _flatten(current)
  digests = {digest for digest, _ in _BY_CONTENT.values()}
  changes = []
  for key in old:
    if (key in FREE_FIELDS or key in digests or
        key.split(".")[0] in ARCHITECTURE_FIELDS):
      continue
    if key in _BY_CONTENT:
      digest, what = _BY_CONTENT[key]
      if old[digest] and new[digest]:
        if old[digest] != new[digest]:
          changes.append(f"{what} content ({old[key]} -> {new[key]}; sha256 "
                         f"{old[digest][:12]} -> {new[digest][:12]})")
        continue
    if old[key] != new[key]:
      change = f"--{flag_name(key)} {_show(old[key])} -> {_show(new[key])}"
      if change not in changes:  # loss.seed and seed are both --seed
        changes.append(change)
  return changes


def check_resumable(saved, current, allow_changes=False):
  """Raises ValueError if `current` cannot resume the run described by `saved`.

  Returns what `current` changes in what the run learns: refused (ValueError listing it)
  unless `allow_changes`. An architecture change is always refused: the checkpoint would not
  fit the new model.
  """
  for key in ARCHITECTURE_FIELDS:
    old, new = getattr(saved, key), getattr(current, key)
    if old != new:
      raise ValueError(
          f"{current.model_dir} holds a run with a different {key} configuration "
          f"({old} vs {new}); use another --model_dir")
  changes = changed_settings(saved, current)
  if changes and not allow_changes:
    raise ValueError(
        f"{current.model_dir} holds a run trained with other settings: {'; '.join(changes)}. "
        "Use another --model_dir, or --allow_config_change to go on with the new settings")
  return changes
