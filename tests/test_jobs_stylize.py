"""`fastchi stylize`'s job in-process: paths, outputs, standard streams, errors, the summary."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import cli
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import locks
from fixtures_models import keras_model_path as model_path  # noqa: F401  (a fixture)

Job = stylize_job.StylizeJob


def _photo(path, rng, size=(20, 28)):
  Image.fromarray(rng.integers(0, 256, (*size, 3), np.uint8)).save(path)
  return str(path)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_one_photo_goes_beside_its_input_and_is_summarized(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.jpg", rng)
  result = stylize_job.run(Job(model=model_path, input=photo))
  out = str(tmp_path / "photo_stylized.jpg")
  assert (result.output, result.written, result.failed, result.many) == (out, [out], [], False)
  assert Image.open(out).size == (28, 20)
  summary = result.summary()
  assert list(summary) == ["model", "input", "output", "written", "failed", "seconds",
                           "runtime", "ran"]
  assert (summary["runtime"], summary["ran"]) == ("tf", model_path)  # (no TFLite beside it)
  assert summary["input"] == photo and summary["seconds"] >= 0


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_folder_skips_our_results_and_reports_a_bad_file(model_path, tmp_path, rng, capsys):
  folder = tmp_path / "album"
  folder.mkdir()
  _photo(folder / "a.png", rng)
  _photo(folder / "a_stylized.png", rng)  # an earlier run's result
  (folder / "b.jpg").write_text("not an image")
  (folder / "notes.txt").write_text("not an image either")
  result = stylize_job.run(Job(model=model_path, input=str(folder), batch_size=2))
  out = str(tmp_path / "album_stylized")
  assert result.many and result.output == out
  assert result.written == [os.path.join(out, "a.png")]
  assert result.failed == [str(folder / "b.jpg")] and result.error is None
  stderr = capsys.readouterr().err
  assert "skipped 1 earlier result named NAME_stylized.EXT" in stderr
  assert "skipped: cannot read image" in stderr


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_standard_input_to_standard_output(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  with open(photo, "rb") as f:
    data = f.read()
  result = stylize_job.run(Job(model=model_path, input="-", output="-"),
                           read_stdin=lambda: data)
  assert (result.output, result.written) == ("-", [])
  expected = stylize.stylize_image(stylizers.load_stylizer(model_path),
                                   np.asarray(Image.open(photo)))
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(result.data))), expected)


def test_one_failed_photo_is_a_result_with_its_error(model_path, tmp_path):
  text = tmp_path / "text.jpg"
  text.write_text("not an image")
  result = stylize_job.run(Job(model=model_path, input=str(text),
                               output=str(tmp_path / "new" / "out.png")))
  assert result.failed == [str(text)] and "cannot read image" in result.error
  assert result.summary()["error"] == result.error
  assert not (tmp_path / "new").exists()  # the folder it made is removed


def _gif():
  data = io.BytesIO()
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(data, format="GIF")
  return data.getvalue()


@pytest.mark.parametrize("fields,stdin,message", [
    (dict(json=True, output="-"), b"", "--json and --output - both write"),
    (dict(tile=3), b"", "--tile must be 0 (never) or at least 64, got 3"),
    (dict(model="m.tflite", device="gpu:0"), b"", "a .tflite model runs on the CPU"),
    (dict(input="-"), b"", "standard input is empty"),
    (dict(input="-"), _gif(), "standard input holds a GIF image"),
    (dict(input="{tmp}/*/x.png"), b"", "would both be written to"),
    (dict(input="{tmp}/none/*.png"), b"", "no images found for --input"),
    (dict(model="{tmp}/a/x.png"), b"", "{tmp}/a/x.png"),  # a photo as the model
    (dict(style="wave"), b"", "wave"),  # a style for a single-style model
])
def test_usage_errors_are_raised_before_any_work(model_path, tmp_path, rng, fields, stdin,
                                                 message):
  for folder in ("a", "b"):
    (tmp_path / folder).mkdir()
    _photo(tmp_path / folder / "x.png", rng)
  fields = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in fields.items()}
  job = Job(**{"model": model_path, "input": str(tmp_path / "a" / "x.png"),
               "output": str(tmp_path / "new" / "out.png"), **fields})
  with pytest.raises(cli.UsageError, match=re.escape(message.format(tmp=tmp_path))):
    stylize_job.run(job, read_stdin=lambda: stdin)
  assert not (tmp_path / "new").exists()


def test_an_output_another_job_holds_fails(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  out = str(tmp_path / "out.png")
  with locks.claim(out):
    with pytest.raises(cli.Failed):
      stylize_job.run(Job(model=model_path, input=photo, output=out))
  assert not os.path.exists(out)


def test_the_job_and_its_command_import_without_tensorflow():
  # The light install runs fastchi stylize on a .tflite model: TensorFlow must stay out.
  script = """
import sys
class Blocker:
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in ("tensorflow", "keras"):
      raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Blocker())
import fastchi_tf.commands.stylize, fastchi_tf.jobs.stylize, fastchi_tf.jobs.contact_sheet
"""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
