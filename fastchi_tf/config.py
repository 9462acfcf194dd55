"""Typed, documented configurations of a training run, saved as `config.json` in its folder.

Imports nothing of the model and no TensorFlow (`validate` calls the builders' own checks,
importing them then), so a tool can check its flags and paths before paying for, and hearing
from, TensorFlow's start. Each sub-config holds one builder's arguments under the builder's
parameter names, so it travels whole: `build_render_net(**dataclasses.asdict(cfg.render))`.
`fastchi train`'s flags are made from the fields (fastchi_tf.commands.train_flags); the demo,
the experiments and the tests start from the `named` configurations. Whether a run may resume
with a config is fastchi_tf.resume_checks'.
"""

import copy
import dataclasses
import json
import os
import sys
from typing import Any, Dict, Optional, Tuple

from fastchi_tf.light import io_utils
from fastchi_tf.light import styles
from fastchi_tf import run_folder

STRATEGIES = ("default", "mirrored", "multi_worker")
# The choices of render_net.VARIANTS / UPSAMPLES / OUTPUTS, loss_net.NAMES / WEIGHT_SOURCES
# and losses.REDUCTIONS / STYLE_LAYER_NORMS / STYLE_STATISTICS, here so that flags can offer them without
# importing TensorFlow (a test keeps them equal). The builders check their arguments against
# their own.
RENDER_VARIANTS = ("original", "inception")
UPSAMPLES = ("nearest", "transpose")
OUTPUTS = ("sigmoid", "tanh")
TRUNK_NORMS = ("instance", "affine")
LOSS_NETWORKS = ("vgg19", "vgg16", "tiny_yolo")
NAMED_WEIGHTS = ("imagenet", "hed", "random")  # anything else is a weights file
REDUCTIONS = ("mean", "sum")
STYLE_LAYER_NORMS = ("raw", "target", "positions")
STYLE_STATISTICS = ("gram", "swd")

FINITE = sys.float_info.max  # upper bound of the settings that take any finite value
# Inclusive ranges of the numeric settings; every numeric flag is bounded by its range.
RANGES = {
    "render.width": (1, 1024),
    "render.shrink": (1, 64),
    "render.residual_blocks": (1, 6),  # tiling's margin covers 6 (tiling.MARGIN)
    "render.tanh_gradient_floor": (0.0, 0.5),
    "loss_net.seed": (0, 2**31 - 1),
    "loss.content_weight": (0.0, FINITE),
    "loss.style_weight": (0.0, FINITE),
    "loss.tv_weight": (0.0, FINITE),
    "data.image_size": (16, 4096),  # VGG's four poolings need 16 pixels
    "data.style_size": (16, 8192),
    "batch_size": (1, 4096),
    "learning_rate": (0.0, 1.0),  # and above 0: see POSITIVE
    "clip_norm": (0.0, FINITE),
    "warmup_steps": (0, 10**9),
    "max_loss_jump": (0.0, FINITE),
    "steps": (1, 10**9),
    "checkpoint_every": (1, 10**9),
    "summary_every": (1, 10**9),
    "cpu_devices": (1, 256),
    "seed": (0, 2**31 - 1),  # data seeds add to it in int64; Keras takes up to 2**32 - 1
    "temporal.weight": (0.0, FINITE),
    "temporal.max_shift": (0.0, 64.0),
    "temporal.local_shift": (0.0, 64.0),
    "temporal.grid": (1, 64),
    "temporal.blur": (0.0, 1.0),
    "temporal.noise": (0.0, 64.0),
}
POSITIVE = ("learning_rate",)  # settings whose range excludes its lower bound, 0
# Settings where 0 turns something off and any other value must lie above a threshold:
# at 1 or below, a step at the median would stop the run.
OFF_OR_ABOVE = {"max_loss_jump": 1.0}
# The flags not named after their field, kept as documented. --seed sets both seeds.
FLAG_NAMES = {"render.variant": "network", "loss_net.name": "loss_net",
              "loss_net.weights": "loss_weights", "loss_net.seed": "seed",
              "loss.reduction": "loss_reduction", "temporal.weight": "temporal_weight",
              "temporal.max_shift": "temporal_max_shift",
              "temporal.local_shift": "temporal_local_shift", "temporal.grid": "temporal_grid",
              "temporal.blur": "temporal_blur", "temporal.noise": "temporal_noise"}


def flag_name(key: str) -> str:
  """"loss.style_weight" -> "style_weight": the tools/train.py flag of a setting."""
  return FLAG_NAMES.get(key, key.split(".")[-1])


def range_text(key: str) -> str:
  """The values a numeric setting takes, in words: its flag's help shows it, and its errors
  say it; `TrainConfig.check` and the flag's validators (commands.train_flags) enforce
  exactly this (`in_range`)."""
  low, high = RANGES[key]
  if key in OFF_OR_ABOVE:
    return f"0 (off), or a finite number above {OFF_OR_ABOVE[key]:g}"
  if isinstance(low, int):
    return f"an integer from {low} to {high}"
  if high == FINITE:
    return f"a finite number >= {low:g}"
  if key in POSITIVE:
    return f"a number above {low:g}, at most {high:g}"
  return f"a number from {low:g} to {high:g}"


def in_range(key: str, value: Any) -> bool:
  """Whether `value` lies in `range_text(key)`; NaN never does."""
  low, high = RANGES[key]
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return False
  if isinstance(low, int) and not isinstance(value, int):
    return False
  # Written so that NaN fails too.
  if not low <= value <= high:
    return False
  if key in OFF_OR_ABOVE:
    return value == 0 or value > OFF_OR_ABOVE[key]
  return value > low if key in POSITIVE else True


def _setting(default: Any, doc: str, choices: Optional[Tuple[str, ...]] = None) -> Any:
  """A field that a flag sets: its help text, and its choices if it has a fixed set."""
  return dataclasses.field(default=default, metadata={"help": doc, "choices": choices})


def _recorded() -> Any:
  """A field that training fills in, not a setting: no flag."""
  return dataclasses.field(default=None)


@dataclasses.dataclass
class RenderConfig:
  """The render network: the arguments of `render_net.build_render_net`."""
  variant: str = _setting("inception", "Render network: original (Johnson) or inception "
                          "(FastChi).", RENDER_VARIANTS)
  width: int = _setting(32, "Base number of filters.")  # FastChi's own code used 16
  shrink: int = _setting(2, "k of the inception convolutions.")
  upsample: str = _setting("nearest", "Upsampling: nearest + conv, or transpose (FastChi; "
                           "checkerboards).", UPSAMPLES)
  output_activation: str = _setting(
      "sigmoid", "Last layer: 255 * sigmoid, or tanh (Johnson: 127.5 + 150 * tanh, clipped "
      "with a straight-through gradient, so no pixel goes dead at 0 or 255).", OUTPUTS)
  # render_net.NUM_RESIDUAL_BLOCKS (not imported here: it would import Keras).
  residual_blocks: int = _setting(5, "Residual blocks (5 in the paper; fewer run faster).")
  trunk_norm: str = _setting(
      "instance", "After the residual blocks' and upsampling's convolutions: instance "
      "normalization, or affine (a scale and shift per style, no per-image statistics, so "
      "no droplet blobs).", TRUNK_NORMS)
  tanh_gradient_floor: float = _setting(
      0.0, "With --output_activation=tanh, the least gradient saturated pixels pass back "
      "in training (0: plain tanh).")
  colour_skip: bool = _setting(
      False, "With --output_activation=tanh, the output is the photo in each painting's "
      "channel means and spreads plus what the network adds (those rows start from the "
      "paintings).")
  # The style names of a multi-style network (conditional instance normalization), from
  # the --style_image files; None for one style.
  styles: Optional[Tuple[str, ...]] = _recorded()


@dataclasses.dataclass
class LossNetConfig:
  """The frozen loss network: the arguments of `loss_net.build_loss_net`."""
  name: str = _setting("vgg19", "Loss network.", LOSS_NETWORKS)
  weights: str = _setting("imagenet", "imagenet, hed (offline VGG16), random (He et al. 2016), "
                          "a .h5 path (VGG) or a Darknet .weights path (tiny_yolo).")
  content_layers: Optional[Tuple[str, ...]] = _setting(
      None, "Content layers, e.g. relu4_2 (default: per net).")
  style_layers: Optional[Tuple[str, ...]] = _setting(
      None, "Style layers, e.g. relu1_1,relu2_1 (default: per net).")
  seed: int = _setting(0, "Seed of the random weights.")  # its flag is --seed


@dataclasses.dataclass
class LossConfig:
  """FastChi's equation (1): the weights of `losses.perceptual_loss`, by their names."""
  content_weight: float = _setting(1.0, "alpha.")
  style_weight: float = _setting(1.0, "beta.")  # Gram matrices are normalized by h * w * c
  tv_weight: float = _setting(1e-4, "gamma.")
  reduction: str = _setting("mean", "mean (FastChi's expectation) or sum (Johnson).",
                            REDUCTIONS)
  style_layer_norm: str = _setting(
      "raw", "raw, or target: each style layer's term divided by its target Gram's "
      "squares, so every layer counts alike (style weights then differ by ~1000x); or "
      "positions: Gram matrices divided by h * w only, as Magenta's (Ghiasi et al.).",
      STYLE_LAYER_NORMS)
  style_statistic: str = _setting(
      "gram", "What the style term compares: gram (Gram matrices) or swd (sorted "
      "projections of the features, a sliced Wasserstein distance).", STYLE_STATISTICS)


@dataclasses.dataclass
class TemporalConfig:
  """The temporal term (Wang et al. 2020; fastchi_tf/temporal.py): the weight, and how the
  second frame is made, by the names of `temporal.TemporalSettings`. A weight of 0 adds
  nothing (and computes nothing). max_shift and local_shift at 0 give the noise-only
  variant, f(x) against f(x + n)."""
  weight: float = _setting(0.0, "Weight of the temporal term (0: off). Its values are mean "
                           "squared differences of [0, 1] pixels, so useful weights are large "
                           "(see experiments/temporal_stability.py).")
  max_shift: float = _setting(4.0, "Temporal term: global shift of the second frame, up to "
                              "this many pixels per axis.")
  local_shift: float = _setting(2.0, "Temporal term: std in pixels of the smooth local flow.")
  grid: int = _setting(4, "Temporal term: the local flow's coarse grid is grid x grid.")
  blur: float = _setting(0.1, "Temporal term: blur of the local flow, as a fraction of the "
                         "crop side.")
  noise: float = _setting(2.0, "Temporal term: std of the noise added to the second frame, "
                          "in [0, 255] levels.")


@dataclasses.dataclass
class DataConfig:
  """Training images (a folder of images, or a tensorflow-datasets name) and the style."""
  train_data: str = _setting("", "Folder searched recursively for images, or tfds:NAME "
                             "(e.g. tfds:coco/2014).")
  tfds_data_dir: Optional[str] = _setting(None, "tensorflow-datasets data folder.")
  image_size: int = _setting(256, "Training crop size.")  # square crops
  style_image: str = _setting("", "Style image file, or several (a comma list of files "
                              "and folders) for a multi-style network; the style names are "
                              "the file stems.")
  style_size: Optional[int] = _setting(
      None, "Longer side of the style image (default: as is).")
  # Training records its inputs by content here, so that resuming notices a changed style
  # image or training set whatever their paths say (see resume_checks.check_resumable).
  style_sha256: Optional[str] = _recorded()  # of the style image file(s)
  train_data_sha256: Optional[str] = _recorded()  # of a folder's file names and sizes


@dataclasses.dataclass
class TrainConfig:
  """A whole training run."""
  model_dir: str = _setting("", "Run folder: checkpoints, summaries, config.json. Not inside "
                            "--train_data; one run at a time.")
  render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
  loss_net: LossNetConfig = dataclasses.field(default_factory=LossNetConfig)
  loss: LossConfig = dataclasses.field(default_factory=LossConfig)
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  temporal: TemporalConfig = dataclasses.field(default_factory=TemporalConfig)
  batch_size: int = _setting(4, "Global batch size.")  # shared by all replicas
  learning_rate: float = _setting(1e-3, "Adam learning rate (above 0).")
  clip_norm: float = _setting(
      0.0, "Clip the global batch's gradient to this norm (0: no clipping).")
  warmup_steps: int = _setting(
      0, "Raise the learning rate linearly over the optimizer's first N updates (after a "
      "start from trained weights with a fresh optimizer; 0: none).")
  # 40000: about 2 epochs of COCO train2014 at batch 4
  steps: int = _setting(40000, "Total training steps.")
  checkpoint_every: int = _setting(1000, "Steps between checkpoints.")
  summary_every: int = _setting(100, "Steps between TensorBoard summaries.")
  strategy: str = _setting("default", "tf.distribute strategy.", STRATEGIES)
  devices: Optional[Tuple[str, ...]] = _setting(
      None, "GPU indices to mirror over, e.g. 0,1 (default: all).")
  cpu_devices: int = _setting(
      1, "Split the CPU into N logical devices (multi-device runs without GPUs).")
  seed: int = _setting(0, "Random seed.")
  deterministic: bool = _setting(False, "Deterministic ops (repeatable runs).")
  mixed_precision: bool = _setting(
      False, "float16 compute, float32 variables and losses, loss scaling (GPUs only).")
  max_loss_jump: float = _setting(
      5.0, "Stop, keeping the last checkpoint, when a step's loss exceeds this many times "
      "the median of the steps before it (a blow-up; 0: never). A resumed run judges its "
      "first steps against the losses its checkpoint recorded.")
  finetune_from: str = _setting(
      "", "Add styles to a trained run (its folder, or a saved multi-style .keras network "
      "whose architecture the render flags describe): its network and styles are kept, and "
      "only the new --style_image styles' scales and shifts train (Dumoulin et al. 2017).")

  def check(self) -> None:
    """Raises ValueError naming the first bad setting or path; needs no TensorFlow.

    Everything `validate` checks except the builders' own arguments.
    """
    self._check_settings()
    self._check_paths()

  def validate(self) -> None:
    """Raises ValueError naming the first impossible or contradictory setting or path."""
    self.check()
    # Imported here: they import TensorFlow.
    from fastchi_tf import loss_net  # pylint: disable=g-import-not-at-top
    from fastchi_tf import losses  # pylint: disable=g-import-not-at-top
    from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
    render_net.check_args(**dataclasses.asdict(self.render))
    loss_net.check_args(**dataclasses.asdict(self.loss_net))
    losses.check_reduction(self.loss.reduction)

  def _check_settings(self):
    if not self.model_dir:
      raise ValueError("--model_dir is required")
    if not self.data.style_image:
      raise ValueError("--style_image is required")
    if not self.data.train_data:
      raise ValueError("--train_data is required")
    for key in RANGES:
      value = _get(self, key)
      if value is None and key == "data.style_size":
        continue
      if not in_range(key, value):
        raise ValueError(f"--{flag_name(key)} must be {range_text(key)}, got {value}")
    if self.strategy not in STRATEGIES:
      raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
    if self.devices and self.strategy != "mirrored":
      raise ValueError(f"--devices needs --strategy=mirrored, not {self.strategy!r}")
    if self.devices and self.cpu_devices > 1:
      raise ValueError("--devices (GPUs) and --cpu_devices (logical CPUs) exclude each other")
    for device in self.devices or ():
      if not str(device).isdigit():
        raise ValueError(f"--devices takes GPU indices such as 0,1; got {device!r}")

  def _check_paths(self):
    """Each path of the right kind; the run's folder neither inside its data nor an input."""
    d, weights = self.data, self.loss_net.weights
    style_files = styles.style_files(d.style_image)
    folder_data = not d.train_data.startswith("tfds:")
    if folder_data:
      _check_folder(d.train_data, "training data")
    elif d.tfds_data_dir and os.path.exists(d.tfds_data_dir):
      _check_folder(d.tfds_data_dir, "--tfds_data_dir")
    if self.finetune_from:
      if not is_keras_file(self.finetune_from):
        _check_folder(self.finetune_from, "--finetune_from run")
      self._check_finetune_from()
    weights_file = weights not in NAMED_WEIGHTS
    if weights_file and os.path.isdir(weights):
      raise ValueError(f"loss network weights {weights} is a folder, not a file")
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
    inputs = style_files + ([weights] if weights_file else [])
    io_utils.check_not_inputs(
        [self.model_dir] + [os.path.join(self.model_dir, n) for n in run_folder.RUN_FILES], inputs)

  def _check_finetune_from(self):
    """A single-style run has no style input to add styles to (train_lib reads the rest)."""
    if is_keras_file(self.finetune_from):  # a saved network: its style names, TF-free
      from fastchi_tf.light import model_files  # pylint: disable=g-import-not-at-top
      if model_files.style_names(self.finetune_from) == ():
        raise ValueError(f"--finetune_from {self.finetune_from} is a single-style network; "
                         "--finetune_from needs a multi-style one to add styles to")
      return
    try:
      earlier = TrainConfig.of_run(self.finetune_from)
    except (ValueError, TypeError):
      return  # not a run's config.json: train_lib says so
    if earlier is not None and not earlier.render.styles:
      raise ValueError(f"--finetune_from {self.finetune_from} is a single-style run; "
                       "--finetune_from needs a multi-style run (trained with several "
                       "--style_image styles) to add styles to")

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def of_run(cls, model_dir: str) -> Optional["TrainConfig"]:
    """The settings recorded in a run folder's config.json; None when it has none."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
      return None
    with open(path) as f:
      return cls.from_dict(json.load(f))

  @classmethod
  def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
    """The config of a `config.json`, older layouts included (see _migrate)."""
    d = _migrate(d)
    for f in dataclasses.fields(cls):
      if dataclasses.is_dataclass(f.type) and f.name in d:
        d[f.name] = f.type(**d[f.name])
    return _tuples(cls(**d))


# config.json files written before the loss network had a sub-config of its own kept its
# arguments in "loss": old key -> key in "loss_net".
_OLD_LOSS_KEYS = {"network": "name", "weights": "weights", "content_layers": "content_layers",
                  "style_layers": "style_layers", "seed": "seed"}


def _migrate(d):
  """A copy of a config.json's dict in today's layout."""
  d = dict(d)
  if isinstance(d.get("loss"), dict):
    loss = dict(d["loss"])
    moved = {new: loss.pop(old) for old, new in _OLD_LOSS_KEYS.items() if old in loss}
    if moved:
      d["loss"], d["loss_net"] = loss, {**moved, **d.get("loss_net", {})}
  return d


def is_keras_file(path: str) -> bool:
  """Whether --finetune_from names a saved network (a .keras file) rather than a run folder:
  its render settings are then the run's own (--network, --width, ...), which must be the
  network's, and its loss settings those it was trained with (e.g. the shipped collection's
  training_config.json)."""
  return path.endswith(".keras") and os.path.isfile(path)


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
  """JSON and flags give lists; turn them into tuples so configs compare equal."""
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if isinstance(value, list):
      setattr(config, f.name, tuple(value))
    elif dataclasses.is_dataclass(value):
      _tuples(value)
  return config


def replace(cfg: TrainConfig, **changes: Any) -> TrainConfig:
  """dataclasses.replace on a copy of `cfg`, where a dict changes fields of a sub-config.

  replace(cfg, render=dict(width=16), steps=10) is `cfg` with render.width 16 and 10 steps;
  `cfg` and the result share nothing.
  """
  cfg = copy.deepcopy(cfg)
  return _tuples(dataclasses.replace(cfg, **{
      key: dataclasses.replace(getattr(cfg, key), **value) if isinstance(value, dict)
      else value for key, value in changes.items()}))


def _sample_style():
  # Imported here: only the offline configurations need the sample data.
  from fastchi_tf import samples  # pylint: disable=g-import-not-at-top
  return samples.skimage_path(samples.STYLE_IMAGE)


def _paper():
  """The field defaults: FastChi's inception network (width 32, k 2) trained with an
  ImageNet VGG19 loss on 256 px crops, batch 4, for 40000 steps (the README's command)."""
  return TrainConfig()


def _offline():
  """The paper's with what ships in pinned packages: hed's VGG16 loss network and
  scikit-image's `ihc.png` at 256 px as the style; model_dir and train_data are per run."""
  return replace(_paper(), loss_net=dict(name="vgg16", weights="hed"),
                 data=dict(style_image=_sample_style(), style_size=256))


def _demo():
  """`make demo`'s: tuned on its photos, style weight 1 at 128 px gives visible style and
  kept content in 300 steps."""
  return replace(_offline(), render=dict(width=16), data=dict(image_size=128), batch_size=2,
                 steps=300, checkpoint_every=100, summary_every=50)


def _tiny():
  """The tests': the smallest network and crops that train in seconds on a CPU."""
  # One residual block: the tests trace the network many times, and tracing five costs ~2x.
  return replace(_offline(), render=dict(width=8, residual_blocks=1),
                 data=dict(image_size=32, style_size=None),
                 steps=2, checkpoint_every=2, summary_every=1, seed=1)


NAMED = {"paper": _paper, "offline": _offline, "demo": _demo, "tiny": _tiny}


def named(name: str, **changes: Any) -> TrainConfig:
  """A fresh named configuration (see NAMED) with `changes`, as `replace` takes them.

  named("tiny", model_dir=run, data=dict(train_data=photos), steps=4)
  """
  if name not in NAMED:
    raise ValueError(f"unknown configuration {name!r}; choose one of {tuple(NAMED)}")
  return replace(NAMED[name](), **changes)
