import dataclasses
import os
import subprocess
import sys

import pytest

from fastchi_tf import config as config_lib
from tool_runner import ROOT


@pytest.fixture
def paths(tmp_path):
  """A style image, a folder of training data and a run folder's place, all in tmp_path."""
  (tmp_path / "photos").mkdir()
  (tmp_path / "photos" / "a.jpg").write_bytes(b"jpeg")
  (tmp_path / "style.png").write_bytes(b"png")
  return tmp_path


def make_config(paths, **overrides):
  cfg = config_lib.TrainConfig(
      model_dir=str(paths / "run"),
      loss=config_lib.LossConfig(network="vgg16", weights="hed"),
      data=config_lib.DataConfig(train_data=str(paths / "photos"),
                                 style_image=str(paths / "style.png"), image_size=32))
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
  assert config_lib.REDUCTIONS == losses.REDUCTIONS
  assert config_lib.NAMED_WEIGHTS == loss_net.WEIGHT_SOURCES


def test_a_good_config_passes(paths):
  make_config(paths).validate()
  make_config(paths, data__style_size=64, learning_rate=1.0, loss__tv_weight=0.0).check()


@pytest.mark.parametrize("key,value,message", [
    ("render__width", 0, "--width must be from 1 to 1024, got 0"),
    ("render__shrink", 100, "--shrink must be from 1 to 64"),
    ("loss__style_weight", float("nan"), "--style_weight must be at least 0.0 and finite, got nan"),
    ("loss__tv_weight", float("inf"), "--tv_weight must be at least 0.0 and finite, got inf"),
    ("loss__content_weight", -1.0, "--content_weight must be at least 0.0"),
    ("data__image_size", 8, "--image_size must be from 16 to 4096, got 8"),
    ("data__style_size", 0, "--style_size must be from 16"),
    ("batch_size", 0, "--batch_size must be from 1"),
    ("learning_rate", 0.0, "--learning_rate must be positive"),
    ("learning_rate", float("nan"), "--learning_rate must be from 0.0 to 1.0"),
    ("steps", 0, "--steps must be from 1"),
    ("checkpoint_every", -1, "--checkpoint_every must be from 1"),
    ("summary_every", 0, "--summary_every must be from 1"),
    ("cpu_devices", 0, "--cpu_devices must be from 1"),
    ("seed", -1, "--seed must be from 0"),
    ("seed", 2**40, "--seed must be from 0 to 2147483647"),
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
  cases = [
      (dict(data__train_data=str(paths / "style.png")),
       r"training data .*style.png is a file, not a folder"),
      (dict(data__train_data=str(paths / "missing")), "training data folder not found"),
      (dict(data__style_image=str(paths / "photos")), r"style image .*photos is a folder"),
      (dict(data__style_image=str(paths / "missing.png")), "style image not found"),
      (dict(model_dir=str(paths / "file")), r"--model_dir .*file is a file, not a folder"),
      (dict(model_dir=str(paths / "file" / "run")), r"cannot create --model_dir .*file is a file"),
      (dict(model_dir=str(paths / "style.png")), "is a file, not a folder"),
      (dict(loss__weights=str(paths / "photos")), "loss network weights .* is a folder"),
      (dict(data__train_data="tfds:coco/2014", data__tfds_data_dir=str(paths / "file")),
       r"--tfds_data_dir .*file is a file, not a folder"),
  ]
  for overrides, message in cases:
    with pytest.raises(ValueError, match=message):
      make_config(paths, **overrides).check()


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


def test_every_setting_is_classified_for_resuming():
  """A new setting is compared on resuming unless it is declared free."""
  flat = config_lib._flatten(config_lib.TrainConfig())
  architecture = [k for k in flat if k.split(".")[0] in config_lib.ARCHITECTURE_FIELDS]
  assert set(config_lib.FREE_FIELDS) <= set(flat)
  assert not set(architecture) & set(config_lib.FREE_FIELDS)
  learned = set(flat) - set(architecture) - set(config_lib.FREE_FIELDS)
  assert {"loss.network", "loss.weights", "loss.style_layers", "loss.style_weight",
          "data.image_size", "data.style_size", "data.style_image", "data.train_data",
          "learning_rate", "batch_size", "seed"} <= learned


LEARNED_CHANGES = [
    ("loss__network", "vgg19", "--loss_net vgg16 -> vgg19"),
    ("loss__weights", "imagenet", "--loss_weights hed -> imagenet"),
    ("loss__content_layers", ("relu3_3",), "--content_layers default -> relu3_3"),
    ("loss__style_layers", ("relu1_2", "relu2_2"), "--style_layers default -> relu1_2,relu2_2"),
    ("loss__content_weight", 2.0, "--content_weight 1.0 -> 2.0"),
    ("loss__style_weight", 3.0, "--style_weight 1.0 -> 3.0"),
    ("loss__tv_weight", 0.0, "--tv_weight 0.0001 -> 0.0"),
    ("loss__reduction", "sum", "--loss_reduction mean -> sum"),
    ("data__image_size", 64, "--image_size 32 -> 64"),
    ("data__style_size", 128, "--style_size default -> 128"),
    ("learning_rate", 0.01, "--learning_rate 0.001 -> 0.01"),
    ("batch_size", 8, "--batch_size 4 -> 8"),
    ("seed", 7, "--seed 0 -> 7"),
    ("data__train_data", "tfds:coco/2014", "--train_data"),
]


@pytest.mark.parametrize("key,value,change", LEARNED_CHANGES)
def test_a_change_of_what_is_learned_is_refused_or_listed(paths, key, value, change):
  saved, current = make_config(paths), make_config(paths, **{key: value})
  with pytest.raises(ValueError, match=r"holds a run trained with other settings: .*"
                     + change.replace("(", r"\(") + r".*--allow_config_change"):
    config_lib.check_resumable(saved, current)
  changes = config_lib.check_resumable(saved, current, allow_changes=True)
  assert len(changes) == 1 and change in changes[0]


def test_free_settings_may_change(paths):
  saved = make_config(paths)
  current = make_config(paths, model_dir=str(paths / "run") + "/", steps=99,
                        checkpoint_every=7, summary_every=3, strategy="mirrored",
                        devices=("0",), cpu_devices=1, deterministic=True,
                        data__tfds_data_dir="/elsewhere")
  assert config_lib.check_resumable(saved, current) == []


def test_architecture_changes_stay_refused_even_when_allowed(paths):
  for key, value in (("render__width", 16), ("mixed_precision", True)):
    with pytest.raises(ValueError, match="different"):
      config_lib.check_resumable(make_config(paths), make_config(paths, **{key: value}),
                                 allow_changes=True)


def test_inputs_are_compared_by_content_when_recorded(paths):
  def with_inputs(style, style_sha, data_path="photos", data_sha="d1"):
    return make_config(paths, data__style_image=style, data__style_sha256=style_sha,
                       data__train_data=str(paths / data_path), data__train_data_sha256=data_sha)

  saved = with_inputs("a/style.png", "s1")
  # Moved, same content: no change.
  assert config_lib.changed_settings(saved, with_inputs("b/other.png", "s1", "moved")) == []
  # Same path, other content: a change, named.
  [change] = config_lib.changed_settings(saved, with_inputs("a/style.png", "s2"))
  assert change.startswith("style image content (a/style.png -> a/style.png; sha256 s1 -> s2")
  [change] = config_lib.changed_settings(saved, with_inputs("a/style.png", "s1", data_sha="d2"))
  assert change.startswith("training data content")
  # A run recorded before digests existed: compared by path.
  old = dataclasses.replace(saved, data=dataclasses.replace(saved.data, style_sha256=None))
  assert config_lib.changed_settings(old, with_inputs("a/style.png", "s1")) == []
  assert config_lib.changed_settings(old, with_inputs("b/style.png", "s1")) == [
      "--style_image a/style.png -> b/style.png"]
