"""The tools with a multi-style model: --list_styles, --style (name, index, mix), --strength,
the contact sheet, and bad style choices as one line with nothing written."""

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import render_net
from fastchi_tf import samples
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import image_io
from run_helpers import randomized
from tool_runner import last_line
from tool_runner import run_tools

NAMES = ("ink", "sun", "sea")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("model") / "styles.keras")
  randomized(render_net.build_render_net("inception", width=8, styles=NAMES,
                                         residual_blocks=1)).save(path)
  return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("photo") / "photo.png")
  Image.fromarray(samples.read_photo("coffee.png", 48)).save(path)
  return path


def _read(path):
  return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.mark.slow
def test_styles_are_listed_chosen_mixed_and_weakened(model_path, photo, tmp_path):
  # Index choices and strength 0 (the photo exactly) are checked in-process
  # (test_styles.py, test_multi_style.py); here the job's paths, and the tool's listing.
  listed, = run_tools(("stylize.py", "--model", model_path, "--list_styles"))
  assert listed.returncode == 0, listed.stderr
  assert listed.stdout.split("\n")[:3] == ["0 ink", "1 sun", "2 sea"]
  out = {k: str(tmp_path / f"{k}.png") for k in ("name", "mix", "half")}
  for key, style, strength in (("name", "sun", 1.0), ("mix", "ink:0.5,sea:0.5", 1.0),
                               ("half", "sea", 0.5)):
    stylize_job.run(stylize_job.StylizeJob(model=model_path, input=photo, output=out[key],
                                           style=style, strength=strength))
  name, original = _read(out["name"]), _read(photo)
  assert np.abs(name - original).mean() > 2
  mix = _read(out["mix"])
  assert not np.array_equal(mix, name) and np.abs(mix - original).mean() > 2
  # Strength 0.5 in "sea" lies halfway between the photo and full "sea".
  sea = stylize.stylize_image(stylizers.load_stylizer(model_path).set_style("sea"),
                              original.astype(np.uint8)).astype(int)
  np.testing.assert_allclose(_read(out["half"]), (original + sea) / 2, atol=1.5)


@pytest.mark.slow
def test_names_without_weights_are_an_equal_mix(photo, tmp_path):
  # The shipped styles on LiteRT: quick, no TensorFlow.
  equal, weighted = str(tmp_path / "equal.png"), str(tmp_path / "weighted.png")
  results = run_tools(("stylize.py", "--input", photo, "--output", equal,
                       "--style", "starry_night,wave"),
                      ("stylize.py", "--input", photo, "--output", weighted,
                       "--style", "starry_night:0.5,wave:0.5"))
  for result in results:
    assert result.returncode == 0, result.stderr
  np.testing.assert_array_equal(_read(equal), _read(weighted))


# One case per path through the tool; every message of a bad choice (index out of range,
# negative or all-zero weights...) is checked in test_styles.py, and the tool turns each into
# the same one line.
@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (("--style", "moon"), "unknown style 'moon'; the model's styles are 0:ink, 1:sun, 2:sea"),
    (("--style", "0.5,0.5"), "2 weights for a model of 3 styles (0:ink, 1:sun, 2:sea); "
     "--style takes a style's name or index"),
    ((), "has 3 styles; choose one with --style"),
    (("--style", "sun", "--strength", "1.5"), "--strength"),
])
def test_bad_style_choices_fail_in_one_line_and_write_nothing(model_path, photo, tmp_path,
                                                              args, message):
  output = tmp_path / "out" / "result.png"
  result, = run_tools(("stylize.py", "--model", model_path, "--input", photo,
                       "--output", output, *args))
  assert result.returncode == 2, result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert message in last_line(result.stderr)
  assert not output.exists() and not output.parent.exists()


@pytest.mark.slow
def test_a_video_is_stylized_in_a_mix_and_the_contact_sheet_has_every_style(
    model_path, photo, tmp_path):
  clip = samples.make_clip(str(tmp_path / "in.mp4"), samples.pan_frames(
      samples.read_photo("coffee.png", 96), 48, 32, 4), 12)
  video_out, sheet = str(tmp_path / "out.mp4"), str(tmp_path / "sheet.png")
  bad_video = tmp_path / "bad.mp4"
  # The tool for what stops before TensorFlow loads; the work in-process (the jobs).
  listed, bad = run_tools(
      ("stylize_video.py", "--model", model_path, "--list_styles"),
      ("stylize_video.py", "--model", model_path, "--input", clip, "--output", bad_video,
       "--style", "moon"))
  from fastchi_tf import video_io
  from fastchi_tf.jobs import contact_sheet as contact_sheet_job
  from fastchi_tf.jobs import video as video_job
  video_job.run(video_job.VideoJob(model=model_path, input=clip, output=video_out,
                                   style="ink:0.3,sun:0.7", strength=0.8))
  assert len(list(video_io.read_frames(video_io.probe(video_out)))) == 4
  assert listed.stdout.split("\n")[:3] == ["0 ink", "1 sun", "2 sea"]
  contact_sheet_job.run(contact_sheet_job.ContactSheetJob(
      model=model_path, inputs=[photo], output=sheet, mix=["ink", "sea"], ramp="sun",
      steps=3))
  width, height = Image.open(sheet).size
  assert width > 4 * height / 3  # rows of four (photo + three styles)
  assert bad.returncode == 2 and "unknown style 'moon'" in last_line(bad.stderr)
  assert not bad_video.exists()


def test_a_strength_ramp_without_a_style_names_the_models_styles(model_path, photo):
  from fastchi_tf import sheets
  stylizer = stylizers.load_stylizer(model_path)
  with pytest.raises(stylize.StylizeError, match="--ramp needs one of the model's styles: "
                     "ink, sun, sea"):
    sheets.contact_sheet(stylizer, image_io.read_image(photo), ramp="")
