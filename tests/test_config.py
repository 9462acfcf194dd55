import dataclasses
import json
import math
import os
import re
import subprocess
import sys

import pytest

from fastchi_tf import config as config_lib
from fastchi_tf import resume_checks
from tool_runner import ROOT


@pytest.fixture
def paths(tmp_path):
  """A style image, a folder of training data and a run folder's place, all in tmp_path."""
  (tmp_path / "photos").mkdir()
  (tmp_path / "photos" / "a.jpg").write_bytes(b"jpeg")
  (tmp_path / "style.png").write_bytes(b"png")
  return tmp_path


def make_config(paths, **overrides):
  """config.named("tiny") on `paths`; overrides name fields like data__image_size."""
  cfg = config_lib.named("tiny", model_dir=str(paths / "run"),
                         data=dict(train_data=str(paths / "photos"),
                                   style_image=str(paths / "style.png")))
  for key, value in overrides.items():
    target = cfg
    *parents, name = key.split("__")
    for parent in parents:
      target = getattr(target, parent)
    setattr(target, name, value)
  return cfg


def test_importing_config_does_not_import_tensorflow():
  # The tools check flags and paths before TensorFlow starts (and prints).
  code = "import sys, fastchi_tf.config; assert 'tensorflow' not in sys.modules"
  subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_choices_match_the_modules_that_define_them():
  from fastchi_tf import loss_net
  from fastchi_tf import losses
  from fastchi_tf import render_net
  assert config_lib.LOSS_NETWORKS == loss_net.NAMES
  assert config_lib.RENDER_VARIANTS == render_net.VARIANTS
  assert config_lib.UPSAMPLES == render_net.UPSAMPLES
  assert config_lib.OUTPUTS == render_net.OUTPUTS
  assert config_lib.TRUNK_NORMS == render_net.TRUNK_NORMS
  assert config_lib.REDUCTIONS == losses.REDUCTIONS
  assert config_lib.STYLE_LAYER_NORMS == losses.STYLE_LAYER_NORMS
  assert config_lib.STYLE_STATISTICS == losses.STYLE_STATISTICS
  assert config_lib.NAMED_WEIGHTS == loss_net.WEIGHT_SOURCES


def test_a_good_config_passes(paths):
  make_config(paths).validate()
  make_config(paths, data__style_size=64, learning_rate=1.0, loss__tv_weight=0.0).check()


@pytest.mark.parametrize("key,value,message", [
    ("render__width", 0, "--width must be an integer from 1 to 1024, got 0"),
    ("render__shrink", 100, "--shrink must be an integer from 1 to 64"),
    ("render__tanh_gradient_floor", 0.9, "--tanh_gradient_floor must be a number from 0 to 0.5, got 0.9"),
    ("loss__style_weight", float("nan"), "--style_weight must be a finite number >= 0, got nan"),
    ("loss__tv_weight", float("inf"), "--tv_weight must be a finite number >= 0, got inf"),
    ("loss__content_weight", -1.0, "--content_weight must be a finite number >= 0"),
    ("data__image_size", 8, "--image_size must be an integer from 16 to 4096, got 8"),
    ("data__style_size", 0, "--style_size must be an integer from 16"),
    ("batch_size", 0, "--batch_size must be an integer from 1"),
    ("learning_rate", 0.0, "--learning_rate must be a number above 0, at most 1, got 0.0"),
    ("learning_rate", float("nan"), "--learning_rate must be a number above 0, at most 1, got nan"),
    ("clip_norm", -1.0, "--clip_norm must be a finite number >= 0"),
    ("max_loss_jump", 0.5, "--max_loss_jump must be 0 .off., or a finite number above 1, got 0.5"),
    ("steps", 0, "--steps must be an integer from 1"),
    ("checkpoint_every", -1, "--checkpoint_every must be an integer from 1"),
    ("summary_every", 0, "--summary_every must be an integer from 1"),
    ("cpu_devices", 0, "--cpu_devices must be an integer from 1"),
    ("seed", -1, "--seed must be an integer from 0"),
    ("seed", 2**40, "--seed must be an integer from 0 to 2147483647"),
    ("devices", ("a",), "--devices takes GPU indices"),
])
def test_every_numeric_setting_has_a_checked_range(paths, key, value, message):
  cfg = make_config(paths, **{key: value})
  if key == "devices":
    cfg.strategy = "mirrored"
  with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
    cfg.check()


def test_every_range_names_a_setting():
  for key in config_lib.RANGES:
    config_lib._get(config_lib.TrainConfig(), key)  # raises AttributeError if not


def test_path_kinds_are_checked(paths):
  (paths / "file").write_bytes(b"")
  (paths / "empty").mkdir()
  (paths / "photos" / "style.png").write_bytes(b"png")
  cases = [
      (dict(data__train_data=str(paths / "style.png")),
       r"training data .*style.png is a file, not a folder"),
      (dict(data__train_data=str(paths / "missing")), "training data folder not found"),
      (dict(data__style_image=str(paths / "run")), r"style image not found: .*run"),
      (dict(finetune_from=str(paths / "style.png")), r"--finetune_from run .*style.png is a "
       "file, not a folder"),
      (dict(finetune_from=str(paths / "missing")), "--finetune_from run folder not found"),
      (dict(data__style_image=str(paths / "missing.png")), "style image not found"),
      (dict(data__style_image=str(paths / "empty")), r"style folder .*empty holds no images"),
      (dict(data__style_image=f"{paths / 'style.png'},{paths / 'photos' / 'style.png'}"),
       "two style images are named 'style'"),
      (dict(model_dir=str(paths / "file")), r"--model_dir .*file is a file, not a folder"),
      (dict(model_dir=str(paths / "file" / "run")), r"cannot create --model_dir .*file is a file"),
      (dict(model_dir=str(paths / "style.png")), "is a file, not a folder"),
      (dict(loss_net__weights=str(paths / "photos")), "loss network weights .* is a folder"),
      (dict(data__train_data="tfds:coco/2014", data__tfds_data_dir=str(paths / "file")),
       r"--tfds_data_dir .*file is a file, not a folder"),
  ]
  for overrides, message in cases:
    with pytest.raises(ValueError, match=message):
      make_config(paths, **overrides).check()


def test_finetuning_from_a_single_style_run_says_it_needs_a_multi_style_run(paths):
  # Checked before TensorFlow: the network itself has no style input to extend.
  for name, styles in (("single", None), ("multi", ("a", "b"))):
    (paths / name).mkdir()
    (paths / name / "config.json").write_text(
        make_config(paths, render__styles=styles).to_json())
  with pytest.raises(ValueError, match=r"^--finetune_from .*single is a single-style run; "
                     r"--finetune_from needs a multi-style run \(trained with several "
                     r"--style_image styles\) to add styles to$"):
    make_config(paths, finetune_from=str(paths / "single")).check()
  make_config(paths, finetune_from=str(paths / "multi")).check()


def test_model_dir_may_not_be_or_lie_inside_the_training_data(paths):
  os.symlink(paths / "photos", paths / "link")
  for model_dir in ("photos", "photos/run", "photos/./deeper/run", "link/run",
                    "elsewhere/../photos/run"):
    with pytest.raises(ValueError, match="lies inside --train_data .*its own outputs"):
      make_config(paths, model_dir=str(paths / model_dir)).check()
  make_config(paths, model_dir=str(paths / "photos-run")).check()
  # Training data inside the run's folder is fine: the run writes none of its files there.
  make_config(paths, model_dir=str(paths)).check()


def test_run_files_may_not_be_the_style_image(paths):
  os.makedirs(paths / "run")
  os.link(paths / "style.png", paths / "run" / "loss_curve.png")  # a hard link: the same file
  with pytest.raises(ValueError, match=r"loss_curve.png .*style.png .*same file"):
    make_config(paths).check()


def test_the_builders_check_their_own_arguments_and_validate_calls_them(paths):
  cases = [(dict(render__width=30, render__shrink=4), "divisible by shrink"),
           (dict(loss_net__name="vgg19"), "'hed' are a VGG16 backbone"),
           (dict(loss_net__style_layers=("relu9_9",)), "unknown vgg16 layer 'relu9_9'"),
           (dict(loss__reduction="median"), "unknown loss reduction 'median'")]
  for overrides, message in cases:
    cfg = make_config(paths, **overrides)
    cfg.check()  # not config's to check: each builder checks its arguments, once
    with pytest.raises(ValueError, match=message):
      cfg.validate()


def test_sub_configs_carry_their_builders_parameter_names():
  import inspect
  from fastchi_tf import loss_net
  from fastchi_tf import losses
  from fastchi_tf import render_net
  for sub, function in [("render", render_net.build_render_net),
                        ("loss_net", loss_net.build_loss_net),
                        ("loss", losses.perceptual_loss)]:
    names = {f.name for f in dataclasses.fields(getattr(config_lib.TrainConfig(), sub))}
    assert names <= set(inspect.signature(function).parameters), sub


# The phrases a numeric flag's help may use for its range (config.range_text's, and absl's
# own), read here independently of the code that writes them.
_RANGE_PHRASES = [
    (r"an integer from (\S+) to (\S+)", lambda v, a, b: v.is_integer() and a <= v <= b),
    (r"an? (?:integer|number) in the range \[(\S+), (\S+)\]", lambda v, a, b: a <= v <= b),
    (r"a number from (\S+) to (\S+)", lambda v, a, b: a <= v <= b),
    (r"a number above (\S+), at most (\S+)", lambda v, a, b: a < v <= b),
    (r"a finite number >= (\S+)", lambda v, a: math.isfinite(v) and v >= a),
    (r"a non-negative number", lambda v: v >= 0),
    (r"0 \(off\), or a finite number above (\S+)",
     lambda v, a: v == 0 or (math.isfinite(v) and v > a)),
    (r"0 \(never\) or at least (\S+)", lambda v, a: v == 0 or v >= a),  # cli.TILE_RANGE
]


def _claimed(help_range, value):
  """Whether a flag whose help shows `help_range` takes the text `value`."""
  for pattern, admits in _RANGE_PHRASES:
    found = re.fullmatch(pattern, help_range)
    if found:
      number = float(value)
      integer = "integer" in help_range
      if integer and not re.fullmatch(r"-?\d+", value):
        return False
      return bool(admits(number, *map(float, found.groups())))
  raise AssertionError(f"the test cannot read the range {help_range!r}; teach it the phrase")


def test_config_json_of_older_runs_loads_and_resumes(paths):
  """Before the loss network had a sub-config, its arguments sat in "loss"."""
  current = make_config(paths, loss_net__style_layers=("relu1_2",), loss_net__seed=3)
  old = json.loads(current.to_json())
  old["loss"].update({"network": "vgg16", "weights": "hed", "content_layers": None,
                      "style_layers": ["relu1_2"], "seed": 3})
  del old["loss_net"]
  assert config_lib.TrainConfig.from_dict(old) == current
  assert resume_checks.check_resumable(config_lib.TrainConfig.from_dict(old), current) == []


def test_runs_from_before_the_residual_blocks_setting_had_five(paths):
  old = json.loads(make_config(paths).to_json())
  del old["render"]["residual_blocks"]
  assert config_lib.TrainConfig.from_dict(old).render.residual_blocks == 5


def test_named_configurations_are_fresh_and_take_changes():
  assert config_lib.named("paper") == config_lib.TrainConfig()
  for name in config_lib.NAMED:
    assert os.path.exists(config_lib.named(name).data.style_image) or name == "paper"
  demo = config_lib.named("demo", steps=5, data=dict(image_size=64))
  assert (demo.steps, demo.data.image_size, demo.data.style_size, demo.render.width) == (
      5, 64, 256, 16)
  demo.render.width = 8  # changes that config alone
  assert config_lib.named("demo").render.width == 16
  derived = config_lib.replace(demo, render=dict(variant="original"))
  assert (derived.render.variant, derived.render.width, demo.render.variant) == (
      "original", 8, "inception")
  assert derived.render is not demo.render and derived.data is not demo.data
  with pytest.raises(ValueError, match="unknown configuration 'huge'"):
    config_lib.named("huge")
  with pytest.raises(TypeError):
    config_lib.named("tiny", render=dict(depth=3))

