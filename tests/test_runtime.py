"""--runtime auto|tflite|tf: the rule (fastchi_tf.light.runtime), the machine facts it reads
(fastchi_tf.light.machine), and the jobs that apply it, in-process."""

import dataclasses
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import cli
from fastchi_tf import shipped
from fastchi_tf import serve
from fastchi_tf import serve_engine
from fastchi_tf.jobs import contact_sheet as contact_sheet_job
from fastchi_tf.jobs import serve as serve_job
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import machine
from fastchi_tf.light import runtime


@pytest.fixture
def export_dir(tmp_path):
  """An export folder's names (what fastchi export --tflite writes), empty files: the rule
  reads names only."""
  folder = tmp_path / "export"
  (folder / "saved_model").mkdir(parents=True)
  (folder / "saved_model" / "saved_model.pb").write_bytes(b"")
  (folder / "model.keras").write_bytes(b"")
  (folder / "model_float16.tflite").write_bytes(b"")
  return folder


def test_auto_runs_an_exports_tflite_sibling_on_the_cpu(export_dir):
  for model in (export_dir / "saved_model", export_dir / "model.keras"):
    choice = runtime.choose(str(model), isa="AVX2")
    assert (choice.runtime, choice.model) == ("tflite", str(export_dir / "model_float16.tflite"))
    assert "1.75-3x" in choice.reason and "no TensorFlow start" in choice.reason
  (export_dir / "model_float32.tflite").write_bytes(b"")  # the closer to the SavedModel
  assert runtime.choose(str(export_dir / "saved_model") + "/").model == str(
      export_dir / "model_float32.tflite")


def test_auto_runs_tensorflow_where_the_job_needs_it_or_it_is_faster(export_dir):
  keras = str(export_dir / "model.keras")
  for kwargs, reason in ((dict(needs="--mixed_precision"), "--mixed_precision needs"),
                         (dict(gpu=True), "a GPU"),
                         (dict(tile=True), "has no tiling signatures"),
                         (dict(tensorflow_started=True, isa="AVX-512 with VNNI"), "1.05-1.11x")):
    choice = runtime.choose(keras, **kwargs)
    assert (choice.runtime, choice.model) == ("tf", keras), kwargs
    assert reason in choice.reason
  # Video on AVX2: TensorFlow starts anyway, and XNNPACK is still twice as fast.
  assert runtime.choose(keras, tensorflow_started=True, isa="AVX2").runtime == "tflite"
  # Photos on AVX-512: the start of TensorFlow alone outweighs its kernels.
  assert runtime.choose(keras, isa="AVX-512").runtime == "tflite"
  assert runtime.choose(str(export_dir.parent / "other.keras")).runtime == "tf"  # no sibling


def test_tf_forces_the_model_given_and_tflite_refuses_what_it_cannot_run(export_dir,
                                                                         tmp_path):
  keras = str(export_dir / "model.keras")
  assert runtime.choose(keras, "tf") == runtime.Choice("tf", keras, "--runtime tf")
  lonely = tmp_path / "alone" / "model.keras"
  lonely.parent.mkdir()
  lonely.write_bytes(b"")
  for model, kind, kwargs, message in (
      (str(lonely), "tflite", {}, f"--runtime tflite: no TFLite file for {lonely}"),
      (keras, "tflite", dict(needs="--device gpu:0"), "--device gpu:0 needs TensorFlow"),
      (str(export_dir / "model_float16.tflite"), "tf", {}, "is a TFLite file"),
      (keras, "fast", {}, "--runtime must be one of auto, tflite, tf")):
    with pytest.raises(runtime.RuntimeChoiceError, match=re.escape(message)) as raised:
      runtime.choose(model, kind, **kwargs)
    assert "\n" not in str(raised.value)


def test_the_rule_is_tflite_but_for_video_on_avx512():
  assert runtime.tflite_is_faster("AVX2")[0] and runtime.tflite_is_faster("AVX-512")[0]
  assert runtime.tflite_is_faster("AVX2", tensorflow_started=True)[0]
  assert not runtime.tflite_is_faster("AVX-512 with BF16/VNNI", tensorflow_started=True)[0]
  assert "not measured" in runtime.tflite_is_faster("unknown")[1]
  assert runtime.describe(gpu=True)["photos"].startswith("TensorFlow")
  described = runtime.describe(isa="AVX-512")
  assert described["photos"].startswith("TFLite") and described["video"].startswith(
      "TensorFlow") and "video:" in described["why"]


def test_the_machine_facts_are_read_without_tensorflow(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("model name\t: X\nflags\t\t: fpu sse4_1 avx avx2 fma\n")
  flags = machine.cpu_flags(str(cpuinfo))
  assert machine.vector_isa(flags) == "AVX2" and machine.onednn_isa(flags, {}) == "avx2"
  driver = tmp_path / "gpus"
  assert not machine.gpu_visible({}, str(driver))  # no driver
  (driver / "0000:00:1e.0").mkdir(parents=True)
  assert machine.gpu_visible({}, str(driver)) == machine.tensorflow_installed()
  assert not machine.gpu_visible({"CUDA_VISIBLE_DEVICES": "-1"}, str(driver))


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory):
  """The shipped collection's two files in an export-like folder: one network as .keras and
  as TFLite."""
  folder = tmp_path_factory.mktemp("collection")
  for name in (shipped.KERAS_FILE, shipped.TFLITE_FILE):
    shutil.copy(shipped.path("keras" if name == shipped.KERAS_FILE else "tflite"), folder)
  return folder


@pytest.fixture
def photo(tmp_path, rng):
  path = tmp_path / "photo.png"
  Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8)).save(path)
  return str(path)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_the_stylize_job_runs_the_runtime_chosen(shipped_copy, photo, tmp_path, monkeypatch):
  monkeypatch.setattr(machine, "gpu_visible", lambda: False)
  keras = str(shipped_copy / shipped.KERAS_FILE)
  job = stylize_job.StylizeJob(model=keras, input=photo, style="wave",
                               output=str(tmp_path / "a.png"))
  auto = stylize_job.run(job)
  assert auto.summary()["runtime"] == "tflite"
  assert auto.summary()["ran"] == str(shipped_copy / shipped.TFLITE_FILE)
  forced = stylize_job.run(stylize_job.StylizeJob(
      model=keras, input=photo, style="wave", output=str(tmp_path / "b.png"), runtime="tf"))
  assert (forced.choice.runtime, forced.choice.model) == ("tf", keras)
  # Both runtimes render the one network: the same picture within float16 rounding.
  a, b = (np.asarray(Image.open(tmp_path / n), np.float32) for n in ("a.png", "b.png"))
  assert np.abs(a - b).mean() < 2.0
  needs = stylize_job.choose_runtime(dataclasses.replace(job, mixed_precision=True))
  assert (needs.runtime, needs.model) == ("tf", keras)


def test_the_jobs_refuse_a_runtime_that_cannot_run_the_model_in_one_line(photo, tmp_path):
  lonely = tmp_path / "alone" / "model.keras"
  lonely.parent.mkdir()
  shutil.copy(shipped.path("keras"), lonely)
  out = tmp_path / "new" / "out.png"
  for job, message in (
      (stylize_job.StylizeJob(model=str(lonely), input=photo, output=str(out), style="wave",
                              runtime="tflite"), "--runtime tflite: no TFLite file for"),
      (stylize_job.StylizeJob(model=shipped.path("tflite"), input=photo, output=str(out),
                              style="wave", runtime="tf"), "is a TFLite file")):
    with pytest.raises(cli.UsageError, match=re.escape(message)) as raised:
      stylize_job.run(job)
    assert "\n" not in str(raised.value)
  with pytest.raises(cli.UsageError, match="no TFLite file for"):
    contact_sheet_job.run(contact_sheet_job.ContactSheetJob(
        model=str(lonely), inputs=[photo], output=str(tmp_path / "sheet.png"),
        runtime="tflite"))
  assert not out.parent.exists() and not (tmp_path / "sheet.png").exists()


def test_serve_runs_an_exports_tflite_sibling_and_refuses_tf(shipped_copy, tmp_path):
  def config(model):
    return serve.ServeConfig(engine=serve_engine.EngineConfig(model=model))
  found = serve_job.with_tflite_model(config(str(shipped_copy / shipped.KERAS_FILE)))
  assert found.engine.model == str(shipped_copy / shipped.TFLITE_FILE)
  with pytest.raises(cli.UsageError, match="--runtime tf: fastchi serve runs .tflite models"):
    serve_job.with_tflite_model(config(""), "tf")
  lonely = tmp_path / "model.keras"
  lonely.write_bytes(b"")
  with pytest.raises(cli.UsageError, match="finds no model_float32.tflite or"):
    serve_job.with_tflite_model(config(str(lonely)))


def test_info_names_the_runtime_and_kernels():
  from fastchi_tf.commands import info  # pylint: disable=g-import-not-at-top,unused-import (--threads)
  from fastchi_tf.jobs import info as info_job  # pylint: disable=g-import-not-at-top
  found = info_job.gather()
  assert found["vector_isa"] == machine.vector_isa()
  assert set(found["runtime"]) == {"photos", "video", "why"}
  assert re.match(r"(TFLite \(LiteRT, XNNPACK|TensorFlow \(oneDNN)", found["runtime"]["photos"])


def test_the_video_job_runs_the_shipped_styles_on_the_faster_runtime_here(shipped_copy,
                                                                        tmp_path, capsys):
  from fastchi_tf import samples  # pylint: disable=g-import-not-at-top
  from fastchi_tf.jobs import video as video_job  # pylint: disable=g-import-not-at-top
  frames = [samples.read_photo("coffee.png", 64)[:48]] * 2
  clip = samples.make_clip(str(tmp_path / "in.mp4"), frames, 24)
  keras = str(shipped_copy / shipped.KERAS_FILE)
  result = video_job.run(video_job.VideoJob(model=keras, input=clip, style="wave",
                                            output=str(tmp_path / "out.mp4")))
  faster = runtime.tflite_is_faster(tensorflow_started=True)[0]  # (no GPU in the tests)
  assert result.choice.model == str(shipped_copy / (shipped.TFLITE_FILE if faster else
                                                    shipped.KERAS_FILE))
  assert result.stylized["frames"] == 2
  assert f"runtime: {result.choice.name} ({result.choice.model})" in capsys.readouterr().err
