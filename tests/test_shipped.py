"""The style collection shipped in the package (fastchi_tf/shipped): it loads safely, has its
six styles, keeps sizes, mixes between styles, and is the tools' default from anywhere."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

from fastchi_tf import render_net
from fastchi_tf import samples
from fastchi_tf import shipped
from fastchi_tf import stylize
from tool_runner import last_line
from tool_runner import run_tools

SIX = ("composition_vii", "starry_night", "the_scream", "the_shipwreck_of_the_minotaur",
       "udnie", "wave")


def test_the_shipped_files_are_small_and_credited():
  sizes = {name: os.path.getsize(os.path.join(shipped.FOLDER, name))
           for name in (shipped.KERAS_FILE, shipped.TFLITE_FILE, shipped.CARD_FILE)}
  assert sizes[shipped.KERAS_FILE] < 4e6 and sizes[shipped.TFLITE_FILE] < 2e6, sizes
  card = open(os.path.join(shipped.FOLDER, shipped.CARD_FILE)).read()
  for name in SIX:
    assert f"| {name} | {shipped.CREDITS[name]} |" in card
  assert "BSDS500" in card


def test_the_card_says_what_a_fine_tuned_run_started_from():
  plain = shipped.model_card(SIX, 1500, "python -m experiments.shipped.styles")
  tuned = shipped.model_card(SIX, 1500, "python -m experiments.shipped.styles",
                             start="It started from step 4500 of the first recipe.")
  assert "to step 1500" in plain and "started from" not in plain
  assert "to step 1500 (" in tuned and "It started from step 4500 of the first recipe." in tuned


def test_the_card_lists_the_settings_changes_of_the_run():
  history = [{"step": 1000, "changes": ["--learning_rate 0.001 -> 0.0005"]},
             {"step": 1500, "changes": ["--style_weight 1 -> 3", "--tv_weight 0 -> 1e-05"]}]
  card = shipped.model_card(SIX, 2000, "recipe", history=history)
  assert ("- from step 1000: --learning_rate 0.001 -> 0.0005\n"
          "- from step 1500: --style_weight 1 -> 3; --tv_weight 0 -> 1e-05\n") in card
  assert "Settings changed" not in shipped.model_card(SIX, 2000, "recipe", history=[])


def test_the_step_is_read_back_from_the_card(tmp_path):
  assert shipped.step(str(tmp_path)) is None  # no card
  (tmp_path / shipped.CARD_FILE).write_text(shipped.model_card(SIX, 5500, "recipe"))
  assert shipped.step(str(tmp_path)) == 5500
  assert isinstance(shipped.step(), int)  # the shipped card names its step


def test_the_keras_model_loads_safely_with_six_styles_and_keeps_odd_sizes(rng):
  model = keras.saving.load_model(shipped.path("keras"), safe_mode=True)
  assert render_net.style_names(model) == SIX
  photo = rng.integers(0, 256, (1, 37, 51, 3)).astype(np.float32)
  out = model([photo, np.eye(6, dtype=np.float32)[1:2]]).numpy()
  assert out.shape == photo.shape


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_the_training_config_describes_the_shipped_network(tmp_path):
  # fastchi add-style trains a new style with these settings: the network they build must be
  # the shipped one, layer by layer.
  import dataclasses
  cfg = shipped.training_config()
  assert cfg.render.styles == SIX and cfg.loss.style_layer_norm == "target"
  model = keras.saving.load_model(shipped.path("keras"), safe_mode=True)
  built = render_net.build_render_net(**dataclasses.asdict(cfg.render))
  assert [(w.path, w.shape) for w in built.weights] == [(w.path, w.shape)
                                                       for w in model.weights]
  with pytest.raises(shipped.MissingError, match="cannot be read"):
    shipped.training_config(str(tmp_path))


@pytest.mark.parametrize("kind", ["tflite", "keras"])
@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_mix_of_two_shipped_styles_lies_between_them(kind):
  stylizer = shipped.load(kind)
  assert stylizer.style_names == SIX
  photo = samples.read_photo("coffee.png", 96)
  a, b, mix = (stylize.stylize_image(stylizer.set_style(s), photo).astype(float)
               for s in ("starry_night", "wave", "starry_night:0.5,wave:0.5"))
  assert mix.shape == photo.shape
  apart = np.abs(a - b).mean()
  assert apart > 10  # the styles differ
  assert np.abs(mix - a).mean() < apart and np.abs(mix - b).mean() < apart


@pytest.mark.slow
def test_the_tools_find_the_collection_from_any_folder_and_name_a_bad_one(tmp_path):
  photo = str(tmp_path / "photo.png")
  Image.fromarray(samples.read_photo("coffee.png", 64)).save(photo)
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  damaged = tmp_path / "damaged"
  damaged.mkdir()
  for name in (shipped.KERAS_FILE, shipped.TFLITE_FILE):
    (damaged / name).write_bytes(b"\x00" * 64)
  out = tmp_path / "out.png"
  cwd = os.getcwd()
  os.chdir(elsewhere)  # the tools run from another folder
  try:
    found, listed, missing, broken = run_tools(
        ("stylize.py", "--input", photo, "--output", out, "--style", "wave"),
        ("stylize_video.py", "--list_styles"),
        ("stylize.py", "--input", photo, "--output", tmp_path / "missing.png", "--style",
         "wave", {"FASTCHI_SHIPPED_DIR": str(tmp_path / "nowhere")}),
        ("stylize.py", "--input", photo, "--output", tmp_path / "broken.png", "--style",
         "wave", {"FASTCHI_SHIPPED_DIR": str(damaged)}))
  finally:
    os.chdir(cwd)
  assert found.returncode == 0, found.stderr
  assert Image.open(out).size == Image.open(photo).size
  assert listed.stdout.splitlines() == [f"{i} {name}" for i, name in enumerate(SIX)]
  for result, message in ((missing, "the shipped style collection is missing"),
                          (broken, shipped.TFLITE_FILE)):
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in last_line(result.stderr)
  assert not os.path.exists(tmp_path / "missing.png")
  assert not os.path.exists(tmp_path / "broken.png")
