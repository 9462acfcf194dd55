import dataclasses
import os

import pytest

from fastchi_tf import config as config_lib
from fastchi_tf import resume_checks
from fastchi_tf import run_folder
from test_config import make_config
from test_config import paths  # noqa: F401  (a fixture)


def test_every_setting_is_classified_for_resuming():
  """A new setting is compared on resuming unless it is declared free."""
  flat = resume_checks._flatten(config_lib.TrainConfig())
  architecture = [k for k in flat if k.split(".")[0] in resume_checks.ARCHITECTURE_FIELDS]
  assert set(resume_checks.FREE_FIELDS) <= set(flat)
  assert not set(architecture) & set(resume_checks.FREE_FIELDS)
  learned = set(flat) - set(architecture) - set(resume_checks.FREE_FIELDS)
  assert {"loss_net.name", "loss_net.weights", "loss_net.style_layers", "loss.style_weight",
          "data.image_size", "data.style_size", "data.style_image", "data.train_data",
          "learning_rate", "batch_size", "seed"} <= learned


LEARNED_CHANGES = [
    ("loss_net__name", "vgg19", "--loss_net vgg16 -> vgg19"),
    ("loss_net__weights", "imagenet", "--loss_weights hed -> imagenet"),
    ("loss_net__content_layers", ("relu3_3",), "--content_layers default -> relu3_3"),
    ("loss_net__style_layers", ("relu1_2", "relu2_2"),
     "--style_layers default -> relu1_2,relu2_2"),
    ("loss__content_weight", 2.0, "--content_weight 1.0 -> 2.0"),
    ("loss__style_weight", 3.0, "--style_weight 1.0 -> 3.0"),
    ("loss__tv_weight", 0.0, "--tv_weight 0.0001 -> 0.0"),
    ("loss__reduction", "sum", "--loss_reduction mean -> sum"),
    ("data__image_size", 64, "--image_size 32 -> 64"),
    ("data__style_size", 128, "--style_size default -> 128"),
    ("learning_rate", 0.01, "--learning_rate 0.001 -> 0.01"),
    ("clip_norm", 10.0, "--clip_norm 0.0 -> 10.0"),
    ("batch_size", 8, "--batch_size 4 -> 8"),
    ("seed", 7, "--seed 1 -> 7"),
    ("data__train_data", "tfds:coco/2014", "--train_data"),
]


@pytest.mark.parametrize("key,value,change", LEARNED_CHANGES)
def test_a_change_of_what_is_learned_is_refused_or_listed(paths, key, value, change):  # noqa: F811
  saved, current = make_config(paths), make_config(paths, **{key: value})
  with pytest.raises(ValueError, match=r"holds a run trained with other settings: .*"
                     + change.replace("(", r"\(") + r".*--allow_config_change"):
    resume_checks.check_resumable(saved, current)
  changes = resume_checks.check_resumable(saved, current, allow_changes=True)
  assert len(changes) == 1 and change in changes[0]


def test_free_settings_may_change(paths):  # noqa: F811
  saved = make_config(paths)
  current = make_config(paths, model_dir=str(paths / "run") + "/", steps=99,
                        checkpoint_every=7, summary_every=3, strategy="mirrored",
                        devices=("0",), cpu_devices=1, deterministic=True,
                        max_loss_jump=0.0, data__tfds_data_dir="/elsewhere")
  assert resume_checks.check_resumable(saved, current) == []


def test_architecture_changes_stay_refused_even_when_allowed(paths):  # noqa: F811
  for key, value in (("render__width", 16), ("render__residual_blocks", 3),
                     ("mixed_precision", True)):
    with pytest.raises(ValueError, match="different"):
      resume_checks.check_resumable(make_config(paths), make_config(paths, **{key: value}),
                                    allow_changes=True)


def test_inputs_are_compared_by_content_when_recorded(paths):  # noqa: F811
  def with_inputs(style, style_sha, data_path="photos", data_sha="d1"):
    return make_config(paths, data__style_image=style, data__style_sha256=style_sha,
                       data__train_data=str(paths / data_path), data__train_data_sha256=data_sha)

  saved = with_inputs("a/style.png", "s1")
  # Moved, same content: no change.
  assert resume_checks.changed_settings(saved, with_inputs("b/other.png", "s1", "moved")) == []
  # Same path, other content: a change, named.
  [change] = resume_checks.changed_settings(saved, with_inputs("a/style.png", "s2"))
  assert change.startswith("style image content (a/style.png -> a/style.png; sha256 s1 -> s2")
  [change] = resume_checks.changed_settings(saved,
                                            with_inputs("a/style.png", "s1", data_sha="d2"))
  assert change.startswith("training data content")
  # A run recorded before digests existed: compared by path.
  old = dataclasses.replace(saved, data=dataclasses.replace(saved.data, style_sha256=None))
  assert resume_checks.changed_settings(old, with_inputs("a/style.png", "s1")) == []
  assert resume_checks.changed_settings(old, with_inputs("b/style.png", "s1")) == [
      "--style_image a/style.png -> b/style.png"]


def test_a_new_run_may_start_in_a_folder_holding_no_other_files(paths):  # noqa: F811
  cfg = make_config(paths)
  assert resume_checks.check_model_dir(cfg, False) == []  # not there yet
  os.makedirs(paths / "run" / "workers")
  for name in (run_folder.LOCK_FILE, ".tmp-config.json"):  # a stopped start, a write check
    (paths / "run" / name).write_text("")
  assert resume_checks.check_model_dir(cfg, False) == []
  for name in ("losses.csv", "notes.txt", "b.png", "c.png"):
    (paths / "run" / name).write_text("")
  with pytest.raises(ValueError, match=r"^--model_dir .*run holds files that are not a "
                     r"training run \(b.png, c.png, losses.csv, \.\.\.\); give a new or "
                     r"empty folder$"):
    resume_checks.check_model_dir(cfg, False)


def test_the_run_a_folder_holds_is_read_and_compared(paths):  # noqa: F811
  os.makedirs(paths / "run")
  cfg = make_config(paths)
  (paths / "run" / "config.json").write_text("not json")
  with pytest.raises(ValueError, match=r"config.json is not a training run's config.json "
                     r"\(.*\); use another --model_dir$"):
    resume_checks.check_model_dir(cfg, False)
  (paths / "run" / "config.json").write_text(cfg.to_json())
  assert resume_checks.check_model_dir(cfg, False) == []
  faster = config_lib.replace(cfg, learning_rate=0.01)
  with pytest.raises(ValueError, match="--learning_rate 0.001 -> 0.01"):
    resume_checks.check_model_dir(faster, False)
  assert resume_checks.check_model_dir(faster, True) == ["--learning_rate 0.001 -> 0.01"]
