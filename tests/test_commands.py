"""The command-line entry points: `fastchi COMMAND` / `python -m fastchi_tf COMMAND`, their
--version, info, --threads and --device."""

import contextlib
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from fastchi_tf import commands
from fastchi_tf import samples
from fastchi_tf import shipped
from tool_runner import ROOT
from tool_runner import last_line
from tool_runner import tool_env


def _fastchi(*calls):
  """Runs `python -m fastchi_tf ARGS` for each ARGS tuple side by side."""
  procs = [subprocess.Popen([sys.executable, "-m", "fastchi_tf", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=tool_env(), cwd=ROOT) for args in calls]
  results = []
  for proc in procs:
    out, err = proc.communicate(timeout=300)
    results.append((proc.returncode, out, err))
  return results


def test_info_run_shows_the_step_and_each_change_of_settings(tmp_path):
  from fastchi_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from fastchi_tf import run_folder  # pylint: disable=g-import-not-at-top
  run = tmp_path / "run"
  run.mkdir()
  first = config_lib.named("tiny", model_dir=str(run), steps=3000)
  second = config_lib.replace(first, learning_rate=0.0005)
  (run / "config.json").write_text(second.to_json())
  (run / "checkpoint").write_text('model_checkpoint_path: "ckpt-2000"\n'
                                  'all_model_checkpoint_paths: "ckpt-2000"\n')
  run_folder.record_change(str(run), 1000, ["--learning_rate 0.001 -> 0.0005"], first)
  shown, as_json, missing, two = _fastchi(("info", run), ("info", run, "--json"),
                                          ("info", tmp_path / "none"), ("info", run, run))
  assert shown[0] == 0, shown[2]
  assert shown[1].splitlines() == [
      f"run: {run}", "step: 2000 of 3000", f"styles: {first.data.style_image}",
      "settings changes: 1 (config_history.jsonl)",
      "  from step 1000: --learning_rate 0.001 -> 0.0005"]
  found = json.loads(as_json[1])
  assert found["step"] == 2000 and found["settings_changes"][0]["step"] == 1000
  assert found["settings_changes"][0]["changes"] == ["--learning_rate 0.001 -> 0.0005"]
  assert missing[0] == 2 and missing[2] == f"fastchi info: error: {tmp_path}/none: not found\n"
  assert two[0] == 2 and "one run folder" in two[2]


@pytest.mark.slow
def test_the_command_lists_its_commands_and_refuses_unknown_ones():
  bare, helped, version, unknown, flags_help = _fastchi(
      (), ("--help",), ("--version",), ("paint",), ("stylize", "--help"))
  assert helped[0] == 0 and bare[0] == 2 and bare[1] == helped[1]
  for name in ("stylize", "video", "train", "export", "contact-sheet", "demo", "info"):
    assert f"\n  {name} " in helped[1], name
  assert version[0] == 0 and version[1].startswith("fastchi 0.")
  assert unknown[0] == 2 and unknown[2].strip().splitlines() == [
      "fastchi: error: unknown command 'paint'; choose one of stylize, video, train, export, "
      f"contact-sheet, demo, info{''.join(f', {n}' for n in list(commands.COMMANDS)[7:])}"]
  # A command's --help lists its own flags and the shared ones.
  assert flags_help[0] == 0
  for flag in ("--input", "--style", "--strength", "--threads", "--device"):
    assert f"  {flag}:" in flags_help[1], flag
  # Its examples are the command's own (they showed python tools/stylize.py).
  assert "  fastchi stylize --model export/model.keras --input" in flags_help[1]
  assert "tools/" not in flags_help[1]


@pytest.mark.slow
def test_info_threads_and_devices(tmp_path):
  photo = tmp_path / "photo.png"
  Image.fromarray(samples.read_photo("coffee.png", 48)).save(photo)
  out = tmp_path / "out.png"
  keras_model = shipped.path("keras")
  info, threaded, no_gpu, bad_device, tflite_gpu, zero = _fastchi(
      ("info", "--json", "--threads", "1"),
      ("stylize", "--input", photo, "--output", out, "--style", "wave", "--threads", "1",
       "--device", "cpu"),
      ("stylize", "--model", keras_model, "--input", photo, "--output", tmp_path / "x.png",
       "--style", "wave", "--device", "gpu:3"),
      ("stylize", "--input", photo, "--output", tmp_path / "y.png", "--device", "tpu"),
      ("stylize", "--model", shipped.path("tflite"), "--input", photo, "--output",
       tmp_path / "z.png", "--device", "gpu"),
      ("stylize", "--input", photo, "--output", tmp_path / "w.png", "--threads", "0"))
  assert info[0] == 0, info[2]
  found = json.loads(info[1])
  assert found["threads"] == "1" and found["tensorflow_threads"]["intra_op"] == 1
  assert found["cpus"] == os.cpu_count() and "CPU:0" in found["devices"]
  assert found["tensorflow"] and found["ai-edge-litert"] and found["onnxruntime"]
  assert found["shipped_models"]["tflite"]["path"] == shipped.path("tflite")
  assert threaded[0] == 0, threaded[2]
  assert Image.open(out).size == Image.open(photo).size
  for (code, _, err), message in (
      (no_gpu, "--device gpu:3: this machine has no GPU that TensorFlow can use"),
      (bad_device, "--device must be cpu, gpu or gpu:N, got 'tpu'"),
      (tflite_gpu, "--device gpu:0: a .tflite model runs on the CPU (LiteRT)"),
      (zero, "--threads")):
    assert code == 2, err
    assert message in last_line(err) and len(err.strip().splitlines()) == 1, err
  for name in ("x.png", "y.png", "z.png", "w.png"):
    assert not (tmp_path / name).exists()


@pytest.mark.slow
def test_an_output_that_another_job_writes_is_refused_in_one_line(tmp_path):
  # Two jobs writing one output both said "wrote", and one result was lost.
  from fastchi_tf.light import locks
  photo = tmp_path / "photo.png"
  Image.fromarray(samples.read_photo("coffee.png", 48)).save(photo)
  clip = samples.make_clip(str(tmp_path / "clip.mp4"), samples.pan_frames(
      samples.read_photo("coffee.png", 96), 32, 32, 2), 12)
  out = tmp_path / "out"
  out.mkdir()
  outputs = {"video": out / "same.mp4", "stylize": out / "same.png",
             "contact-sheet": out / "sheet.png", "folder": out / "photos"}
  with contextlib.ExitStack() as held:  # as a job that started first would
    for path in outputs.values():
      held.enter_context(locks.claim(str(path), "fastchi video"))
    results = _fastchi(
        ("video", "--input", clip, "--output", outputs["video"], "--style", "wave"),
        ("stylize", "--input", photo, "--output", outputs["stylize"], "--style", "wave"),
        ("contact-sheet", "--input", photo, "--output", outputs["contact-sheet"]),
        ("stylize", "--input", tmp_path / "*.png", "--output", outputs["folder"],
         "--style", "wave"))
    for (code, _, err), (name, path) in zip(results, outputs.items()):
      assert code == 1, err
      assert err.strip().splitlines() == [
          f"fastchi {name.replace('folder', 'stylize')}: error: {path} is being written by "
          f"another job (fastchi video, pid {os.getpid()}); wait for it to finish or choose "
          "another output"], err
    # Only the first job's claims, and the folder it writes in: the refused job made
    # photos/ (the first had not yet), and removing it would fail the first job's writes.
    assert sorted(os.listdir(out)) == [".photos.lock", ".same.mp4.lock", ".same.png.lock",
                                       ".sheet.png.lock", "photos"]
  os.rmdir(outputs["folder"])
  assert os.listdir(out) == []
  # Once the first job is done, the output is free, and a finished job leaves only it.
  (code, stdout, err), = _fastchi(
      ("stylize", "--input", photo, "--output", outputs["stylize"], "--style", "wave"))
  assert code == 0 and stdout.startswith("wrote"), err
  assert os.listdir(out) == ["same.png"]


def _without_tensorflow(tmp_path, calls):
  """`fastchi` started for each argument tuple of `calls` with TensorFlow blocked, as in the
  light install: a tool that waited for it would say it is not installed."""
  blocker = tmp_path / "blocked" / "tensorflow"
  blocker.mkdir(parents=True)
  (blocker / "__init__.py").write_text(
      "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')")
  env = tool_env(PYTHONPATH=f"{blocker.parent}{os.pathsep}{ROOT}")
  return [subprocess.Popen([sys.executable, "-m", "fastchi_tf", *map(str, args)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT) for args in calls]


@pytest.mark.slow
def test_errors_that_need_no_tensorflow_come_before_it(tmp_path):
  # TensorFlow blocked, as in the light install: a tool that waited for it would say it is
  # not installed, 5-8 s later where it is.
  photo = tmp_path / "photo.png"
  Image.fromarray(samples.read_photo("coffee.png", 48)).save(photo)
  not_a_model = tmp_path / "chicago.jpg"
  not_a_model.write_bytes(photo.read_bytes())
  clip = samples.make_clip(str(tmp_path / "clip.mp4"), samples.pan_frames(
      samples.read_photo("coffee.png", 96), 32, 32, 2), 12)
  keras_model = shipped.path("keras")
  unknown = (f"unknown model format {not_a_model}: give a SavedModel folder, a .keras file or "
             "a .tflite file")
  cases = {
      ("stylize", "--model", not_a_model, "--input", photo, "--output", tmp_path / "a.png"):
          unknown,
      ("video", "--model", not_a_model, "--input", clip, "--output", tmp_path / "b.mp4"):
          unknown,
      ("contact-sheet", "--model", not_a_model, "--input", photo, "--output",
       tmp_path / "c.png"): unknown,
      ("video", "--input", clip, "--output", tmp_path / "d.mp4"):
          "the model has 6 styles; choose one with --style (e.g. --style composition_vii) or "
          "see --list_styles",
      ("stylize", "--model", keras_model, "--input", tmp_path / "missing.png", "--output",
       tmp_path / "e.png", "--style", "wave"): f"input image not found: {tmp_path}/missing.png",
  }
  procs = _without_tensorflow(tmp_path, cases)
  for (args, message), proc in zip(cases.items(), procs):
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (args, err)
    assert err.strip().splitlines() == [f"fastchi {args[0]}: error: {message}"], (args, err)
  assert sorted(os.listdir(tmp_path)) == ["blocked", "chicago.jpg", "clip.mp4", "photo.png"]


@pytest.mark.slow
def test_list_styles_needs_no_tensorflow_for_a_keras_or_tflite_model(tmp_path):
  # A photo as --model with --list_styles was refused after 7-8 s, and video --list_styles
  # on a .tflite model took 8.5 s: both waited for TensorFlow.
  not_a_model = tmp_path / "chicago.jpg"
  Image.fromarray(samples.read_photo("coffee.png", 48)).save(not_a_model)
  names = ["composition_vii", "starry_night", "the_scream", "the_shipwreck_of_the_minotaur",
           "udnie", "wave"]
  listed = "".join(f"{i} {name}\n" for i, name in enumerate(names))
  calls = [("video", "--list_styles"),
           ("video", "--list_styles", "--model", shipped.path("tflite")),
           ("stylize", "--list_styles", "--model", shipped.path("keras"), "--json"),
           ("stylize", "--list_styles", "--model", not_a_model),
           ("video", "--list_styles", "--model", not_a_model)]
  procs = _without_tensorflow(tmp_path, calls)
  keras, tflite, as_json, bad_stylize, bad_video = [
      p.communicate(timeout=120) + (p.returncode,) for p in procs]
  assert keras == (listed, "", 0) and tflite == (listed, "", 0), (keras, tflite)
  assert json.loads(as_json[0]) == {"model": shipped.path("keras"), "styles": names}
  for (out, err, code), command in ((bad_stylize, "stylize"), (bad_video, "video")):
    assert code == 2 and out == "", err
    assert err.strip().splitlines() == [
        f"fastchi {command}: error: unknown model format {not_a_model}: give a SavedModel "
        "folder, a .keras file or a .tflite file"], err


def test_help_texts_show_the_fastchi_command_not_the_scripts():
  """Each command's docstring is its --help text: one way in (`fastchi COMMAND`)."""
  import ast
  for module, _ in commands.COMMANDS.values():
    path = os.path.join(ROOT, "fastchi_tf", "commands", f"{module}.py")
    with open(path) as f:
      doc = ast.get_docstring(ast.parse(f.read())) or ""
    assert "python tools/" not in doc and "tools/" not in doc, module


def test_one_way_in_the_package_installs_only_the_fastchi_command():
  import tomllib  # pylint: disable=g-import-not-at-top  (only this test reads pyproject)
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    scripts = tomllib.load(f)["project"]["scripts"]
  assert scripts == {"fastchi": "fastchi_tf.__main__:main"}
  assert all(os.path.exists(os.path.join(ROOT, "tools", f"{m}.py"))
             for m, _ in commands.COMMANDS.values())  # and a thin script per command
