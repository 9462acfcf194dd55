"""`fastchi video`'s job in-process: a short clip stylized, flicker measured, usage errors."""

import json
import shutil

import pytest

from fastchi_tf import cli
from fastchi_tf import flicker
from fastchi_tf import samples
from fastchi_tf import video_io
from fastchi_tf.jobs import video as video_job
from fixtures_models import keras_model_path  # noqa: F401  (a fixture)

Job = video_job.VideoJob


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
  """A slow pan (2 pixels a frame) that optical flow can follow, for the flicker."""
  frames = flicker.synthetic_clip(samples.read_photo("coffee.png", 200), "pan", 6, 64, 48)[0]
  return samples.make_clip(str(tmp_path_factory.mktemp("clip") / "in.mp4"), frames, 24)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_clip_is_stylized_and_its_flicker_measured(keras_model_path, clip, tmp_path, capsys):
  out = str(tmp_path / "new" / "out.mp4")
  told = []
  result = video_job.run(Job(model=keras_model_path, input=clip, output=out, batch_size=2,
                             report_flicker=True), on_written=told.append)
  assert told == [result.stylized] and result.stylized["frames"] == 6
  info = video_io.probe(out)
  assert (info.width, info.height) == (64, 48)
  assert result.flicker_path == out + ".flicker.json" and result.flicker["output"]["pairs"] == 5
  with open(result.flicker_path) as f:
    assert json.load(f) == result.flicker
  assert f"{clip}: 64x48" in capsys.readouterr().err  # the input's line


@pytest.mark.parametrize("fields,message", [
    (dict(input="-"), "the video tool reads a file"),
    (dict(input="{tmp}/missing.mp4"), "missing.mp4"),
    (dict(output="{clip}"), "{clip}"),  # the input as the output
    (dict(model="{clip}"), "{clip}"),  # a video as the model
    (dict(style="wave"), "wave"),  # a style for a single-style model
    (dict(tile=3), "--tile must be 0 (never) or at least 64, got 3"),
    (dict(stabilize=1.0), "--stabilize 1: give a strength in [0, 1)"),
    (dict(stabilize=-0.5), "--stabilize -0.5"),
])
def test_usage_errors_are_raised_before_any_work(keras_model_path, clip, tmp_path, fields,
                                                 message):
  fields = {k: v.format(tmp=tmp_path, clip=clip) if isinstance(v, str) else v
            for k, v in fields.items()}
  job = Job(**{"model": keras_model_path, "input": clip, "output": str(tmp_path / "new" / "o.mp4"),
               **fields})
  with pytest.raises(cli.UsageError, match=None) as info:
    video_job.run(job)
  assert message.format(tmp=tmp_path, clip=clip) in str(info.value)
  assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("fields,message", [
    (dict(runtime="tflite"), "--runtime tflite: no TFLite file for"),
    (dict(runtime="tflite", mixed_precision=True, model="{export}/model.keras"),
     "--runtime tflite: --mixed_precision needs TensorFlow"),
])
def test_a_refused_runtime_is_said_before_tensorflow_starts(keras_model_path, clip, tmp_path,
                                                            monkeypatch, fields, message):
  export = tmp_path / "export"  # model.keras with a TFLite file beside it (never loaded)
  export.mkdir()
  shutil.copy(keras_model_path, export / "model.keras")
  (export / "model_float16.tflite").write_bytes(b"")
  monkeypatch.setattr(  # TensorFlow is the tests' already: its start is this call
      cli, "import_tensorflow_quietly",
      lambda *args: pytest.fail("TensorFlow started before --runtime was refused"))
  fields = {k: v.format(export=export) if isinstance(v, str) else v
            for k, v in fields.items()}
  job = Job(**{"model": keras_model_path, "input": clip, "output": str(tmp_path / "new" / "o.mp4"),
               **fields})
  with pytest.raises(cli.UsageError) as info:
    video_job.run(job)
  assert message in str(info.value)
  assert not (tmp_path / "new").exists()
