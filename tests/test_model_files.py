"""Model files told apart without TensorFlow (fastchi_tf/light/model_files.py)."""

import os
import subprocess
import sys

import pytest

from fastchi_tf.light import model_files
from fastchi_tf import render_net
from fastchi_tf import shipped
from tool_runner import ROOT

SHIPPED_NAMES = ("composition_vii", "starry_night", "the_scream",
                 "the_shipwreck_of_the_minotaur", "udnie", "wave")


def test_the_kind_comes_from_the_name_and_the_first_bytes(tmp_path):
  (tmp_path / "export").mkdir()
  (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
  (tmp_path / "empty").mkdir()
  (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a JPEG")
  (tmp_path / "text.keras").write_text("hello")
  (tmp_path / "zeros.tflite").write_bytes(b"\0" * 64)
  assert model_files.kind(str(tmp_path / "export")) == "saved_model"
  assert model_files.kind(shipped.path("keras")) == "keras"
  assert model_files.kind(shipped.path("tflite")) == "tflite"
  for name, message in (("photo.jpg", "unknown model format .*photo.jpg: give a SavedModel "
                         "folder, a .keras file or a .tflite file"),
                        ("text.keras", "is not a .keras model"),
                        ("zeros.tflite", "is not a TFLite model"),
                        ("empty", "is a folder but not a SavedModel"),
                        ("missing.keras", "model not found")):
    with pytest.raises(model_files.ModelFileError, match=message):
      model_files.kind(str(tmp_path / name))


def test_style_names_are_read_from_keras_and_tflite_files(tmp_path):
  assert model_files.style_names(shipped.path("keras")) == SHIPPED_NAMES
  assert model_files.style_names(shipped.path("tflite")) == SHIPPED_NAMES
  single, multi = str(tmp_path / "single.keras"), str(tmp_path / "multi.keras")
  render_net.build_render_net("inception", width=8, residual_blocks=1).save(single)
  render_net.build_render_net("inception", width=8, residual_blocks=1,
                              styles=("ink", "sun")).save(multi)
  assert model_files.style_names(single) == ()
  assert model_files.style_names(multi) == ("ink", "sun")
  (tmp_path / "export").mkdir()
  (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
  assert model_files.style_names(str(tmp_path / "export")) is None  # known once loaded
  model_files.check(multi, "ink,sun")
  with pytest.raises(ValueError, match="has a single style; leave --style out"):
    model_files.check(single, "ink")


def test_a_bad_model_or_style_is_refused_without_importing_tensorflow(tmp_path):
  photo = tmp_path / "photo.jpg"
  photo.write_bytes(b"\xff\xd8\xff\xe0 a JPEG")
  script = f"""
import sys
from fastchi_tf.light import model_files
for path, style in (({str(photo)!r}, "wave"), ({shipped.path("keras")!r}, None),
                    ({shipped.path("tflite")!r}, "moon")):
  try:
    model_files.check(path, style)
  except ValueError as e:
    print(str(e).split(";")[0])
model_files.check({shipped.path("keras")!r}, "wave")
print("tensorflow" in sys.modules)
"""
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [
      f"unknown model format {photo}: give a SavedModel folder, a .keras file or a .tflite "
      "file", "the model has 6 styles", "unknown style 'moon'", "False"]
