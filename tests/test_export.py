import json
import os
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fastchi_tf import cli
from fastchi_tf import export
from fastchi_tf.jobs import export as export_job
from fastchi_tf.light import lite
from run_helpers import saved_run
from test_train_lib import make_config
from tool_runner import last_line
from tool_runner import run_tool
from tool_runner import run_tools


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, photo_folder, style_path):
  cfg = make_config(tmp_path_factory.mktemp("run") / "run", photo_folder, style_path, steps=2)
  return saved_run(cfg, (2,)).model_dir


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
  export_dir = str(tmp_path_factory.mktemp("export") / "export")
  result = run_tool("export.py", "--model_dir", trained_run, "--export_dir", export_dir,
                    "--tflite")
  assert result.returncode == 0, result.stderr
  return export_dir, result.stdout


@pytest.mark.slow
def test_export_writes_every_format(exported):
  export_dir, stdout = exported
  assert set(os.listdir(export_dir)) >= {"saved_model", "model.keras", "model_float32.tflite",
                                         "model_float16.tflite"}
  # export_all checks TFLite against the SavedModel on a small image and on a 640x480
  # photo (experiments/export_accuracy goes to 2560x1440 against float64).
  reported = {line.split(":")[0]: int(line.split()[-3]) for line in stdout.splitlines()
              if line.startswith("TFLite")}
  assert reported["TFLite float32"] <= 1, stdout


@pytest.mark.slow
def test_saved_model_signature_is_uint8_any_size_and_matches_eager(exported, trained_run, rng):
  export_dir, _ = exported
  signature = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures[
      "serving_default"]
  model = export.restore_render_net(trained_run)
  for shape in [(1, 33, 47, 3), (2, 64, 40, 3)]:
    images = rng.integers(0, 256, shape, np.uint8)
    out = signature(images=tf.constant(images))["stylized"]
    assert out.dtype == tf.uint8 and out.shape == shape
    eager = np.clip(np.round(model(images.astype(np.float32)).numpy()), 0, 255)
    assert np.abs(out.numpy().astype(int) - eager).max() <= 1
  # (image by image inside: an empty batch comes back empty, not as an error)
  empty = signature(images=tf.zeros([0, 16, 24, 3], tf.uint8))["stylized"]
  assert empty.shape == (0, 16, 24, 3)


@pytest.mark.slow
def test_keras_file_loads_in_safe_mode_and_matches(exported, trained_run, rng):
  export_dir, _ = exported
  loaded = keras.saving.load_model(os.path.join(export_dir, "model.keras"), safe_mode=True)
  x = rng.uniform(0, 255, (1, 40, 56, 3)).astype(np.float32)
  np.testing.assert_allclose(loaded(x), export.restore_render_net(trained_run)(x), atol=1e-3)


@pytest.mark.slow
def test_tflite_agrees_with_the_saved_model(exported, rng):
  export_dir, _ = exported
  signature = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures[
      "serving_default"]
  image = rng.integers(0, 256, (50, 70, 3), np.uint8)
  reference = signature(images=tf.constant(image[None]))["stylized"].numpy()[0].astype(int)
  f32 = lite.TFLiteRunner(os.path.join(export_dir, "model_float32.tflite"))(image)
  f16 = lite.TFLiteRunner(os.path.join(export_dir, "model_float16.tflite"))(image)
  assert f32.shape == image.shape and np.abs(f32.astype(int) - reference).max() <= 1
  assert np.abs(f16.astype(int) - reference).mean() <= 2


@pytest.mark.slow
def test_export_of_a_folder_without_a_run_fails_clearly(tmp_path):
  result = run_tool("export.py", "--model_dir", tmp_path, "--export_dir", tmp_path / "out")
  assert result.returncode == 2  # a path of the wrong kind
  assert "is not a training run (no config.json)" in last_line(result.stderr)
  assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
def test_reexport_replaces_the_whole_folder_and_refuses_what_is_not_an_export(
    trained_run, exported, tmp_path, monkeypatch):
  # In-process (the export job): the tool's statuses are the subprocess tests' above.
  export_dir, _ = exported
  assert os.path.exists(os.path.join(export_dir, "model_float32.tflite"))
  again = str(tmp_path / "again")
  os.makedirs(again)
  for name in export.TFLITE_FILES.values():  # an earlier export's files, now stale
    open(os.path.join(again, name), "wb").write(b"stale")
  mine = str(tmp_path / "mine")
  os.makedirs(mine)
  open(os.path.join(mine, "notes.txt"), "w").write("keep me")
  # (the folder's replacement, not the SavedModel's tracing, ~16 s: the tests above have one)
  monkeypatch.setattr(export, "export_saved_model",
                      lambda model, path: os.makedirs(os.path.join(path, "variables")))
  export_job.run(export_job.ExportJob(model_dir=trained_run, export_dir=again))
  assert sorted(os.listdir(again)) == ["model.keras", "saved_model"]  # no stale .tflite

  def refused(export_dir, **fields):
    with pytest.raises(cli.UsageError) as info:
      export_job.run(export_job.ExportJob(model_dir=trained_run, export_dir=str(export_dir),
                                          **fields))
    assert "\n" not in str(info.value)  # the tool's one line
    return str(info.value)

  assert "not an export (notes.txt)" in refused(mine)
  assert open(os.path.join(mine, "notes.txt")).read() == "keep me"
  for folder in (trained_run, os.path.dirname(trained_run)):
    assert "would replace the run" in refused(folder)
  assert os.path.exists(os.path.join(trained_run, "config.json"))
  assert "cannot write to /proc" in refused("/proc/x")
  monkeypatch.setitem(sys.modules, "tf2onnx", None)  # importing tf2onnx now fails
  assert "--onnx needs tf2onnx: pip install" in refused(tmp_path / "onnx", onnx=True)
  assert not os.path.exists(tmp_path / "onnx")


@pytest.mark.slow
def test_a_tflite_model_stylizes_without_tensorflow(exported, tmp_path, rng):
  export_dir, _ = exported
  blocker = tmp_path / "blocked"
  for name in ("tensorflow", "keras"):  # importing either now fails loudly
    (blocker / name).mkdir(parents=True)
    (blocker / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed')")
  photo = str(tmp_path / "photo.png")
  image = rng.integers(0, 256, (150, 100, 3), np.uint8)
  Image.fromarray(image).save(photo)
  model = os.path.join(export_dir, "model_float32.tflite")
  from tool_runner import ROOT
  results = run_tools(*[("stylize.py", "--model", model, "--input", photo, "--output",
                         tmp_path / f"out{tile}.png", "--preserve_color", "--tile", tile)
                        for tile in (0, 64)],  # whole, and in tiles
                      PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}")
  from fastchi_tf import stylize
  from fastchi_tf import stylizers
  stylizer = stylizers.load_stylizer(model)
  for result, tile in zip(results, (0, 64)):
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not even LiteRT's delegate line
    expected = stylize.stylize_image(stylizer, image, keep_color=True, tile=tile)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"out{tile}.png")),
                                  expected)


@pytest.mark.slow
def test_a_run_with_an_older_config_json_restores(trained_run, tmp_path, rng):
  """Before the loss network had a sub-config, config.json kept its arguments in "loss"."""
  old_run = str(tmp_path / "old")
  shutil.copytree(trained_run, old_run)
  path = os.path.join(old_run, "config.json")
  cfg = json.load(open(path))
  loss_net = cfg.pop("loss_net")
  cfg["loss"].update(network=loss_net.pop("name"), **loss_net)
  json.dump(cfg, open(path, "w"))
  x = rng.uniform(0, 255, (1, 24, 32, 3)).astype(np.float32)
  np.testing.assert_array_equal(export.restore_render_net(old_run)(x),
                                export.restore_render_net(trained_run)(x))
