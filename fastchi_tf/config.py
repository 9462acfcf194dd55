"""Typed, documented configurations of a training run, saved as `config.json` in its folder."""

import dataclasses
import json
from typing import Optional, Tuple

from fastchi_tf import loss_net
from fastchi_tf import losses
from fastchi_tf import render_net

STRATEGIES = ("default", "mirrored", "multi_worker")


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

  def validate(self):
    """Raises ValueError naming the first impossible or contradictory setting."""
    render_net._check_args(self.render.variant, self.render.width, self.render.shrink,
                           self.render.upsample)
    if self.loss.weights == "hed" and self.loss.network != "vgg16":
      raise ValueError("--loss_weights=hed is a VGG16 backbone: use --loss_net=vgg16")
    loss_net.check_args(self.loss.network, self.loss.weights, self.loss.content_layers,
                        self.loss.style_layers)
    if self.loss.reduction not in losses.REDUCTIONS:
      raise ValueError(f"unknown loss reduction {self.loss.reduction!r}; "
                       f"choose one of {losses.REDUCTIONS}")
    if self.strategy not in STRATEGIES:
      raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
    if self.devices and self.strategy != "mirrored":
      raise ValueError(f"--devices needs --strategy=mirrored, not {self.strategy!r}")
    if self.devices and self.cpu_devices > 1:
      raise ValueError("--devices (GPUs) and --cpu_devices (logical CPUs) exclude each other")
    for name in ("batch_size", "steps", "checkpoint_every", "summary_every", "cpu_devices"):
      if getattr(self, name) < 1:
        raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}")
    if self.data.image_size < 16:
      raise ValueError(f"--image_size must be at least 16, got {self.data.image_size}")
    if not self.learning_rate > 0:
      raise ValueError(f"--learning_rate must be positive, got {self.learning_rate}")
    if not self.model_dir:
      raise ValueError("--model_dir is required")
    if not self.data.style_image:
      raise ValueError("--style_image is required")
    if not self.data.train_data:
      raise ValueError("--train_data is required")

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


def _tuples(config):
  """JSON turns tuples into lists; turn them back so configs compare equal."""
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    if isinstance(value, list):
      setattr(config, field.name, tuple(value))
  return config


# Settings that change what a checkpoint holds: a resumed run must agree on them.
# (mixed precision adds a loss scale and wraps the optimizer in the checkpoint)
ARCHITECTURE_FIELDS = ("render", "mixed_precision")


def check_resumable(saved, current):
  """Raises ValueError if `current` cannot resume the run described by `saved`."""
  for key in ARCHITECTURE_FIELDS:
    old, new = getattr(saved, key), getattr(current, key)
    if old != new:
      raise ValueError(
          f"{current.model_dir} holds a run with a different {key} configuration "
          f"({old} vs {new}); use another --model_dir")
