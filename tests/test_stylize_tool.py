"""tools/stylize.py as a user meets it: outputs that would replace inputs, unwritable places,
folders and globs, flag ranges, the streams.

What the job decides (fastchi_tf/jobs/stylize.py) runs in-process; subprocesses check what
only the tool does (flags, exit statuses, one-line messages, standard output), and most of
them run the shipped styles on LiteRT or stop before TensorFlow would load.
"""

import io
import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import cli
from fastchi_tf import shipped
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.jobs import stylize as stylize_job
from tool_runner import ROOT
from tool_runner import last_line
from tool_runner import run_tools
from tool_runner import tool_command
from tool_runner import tool_env
from fixtures_models import keras_model_path as model_path  # noqa: F401  (a fixture)

Job = stylize_job.StylizeJob


def _photo(path, rng, size=(40, 56)):
  Image.fromarray(rng.integers(0, 256, (*size, 3), np.uint8)).save(path)
  return str(path)


def _refused(job):
  """The UsageError's message of a job that must not start."""
  with pytest.raises(cli.UsageError) as info:
    stylize_job.run(job)
  message = str(info.value)
  assert "\n" not in message, message  # the tool's one line
  return message


def test_an_output_that_names_an_input_is_refused_however_spelled(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  original = open(photo, "rb").read()
  (tmp_path / "sub").mkdir()
  os.symlink(photo, tmp_path / "link.png")
  os.link(photo, tmp_path / "hard.png")
  cases = {  # name: (input, output)
      "input is a link, output the real file": (tmp_path / "link.png", photo),
      "output is a link to the input": (photo, tmp_path / "link.png"),
      "output through ..": (photo, tmp_path / "sub" / ".." / "photo.png"),
      "output is a hard link": (photo, tmp_path / "hard.png"),
      "model as output": (photo, model_path),
  }
  for name, (src, dst) in cases.items():
    message = _refused(Job(model=model_path, input=str(src), output=str(dst)))
    assert "would overwrite its input" in message or "unsupported output" in message, (
        name, message)
    assert open(photo, "rb").read() == original, name


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_differently_cased_output_never_replaces_the_input(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  original = open(photo, "rb").read()
  upper = str(tmp_path / "PHOTO.png")
  job = Job(model=model_path, input=photo, output=upper)
  if os.path.exists(upper):  # case-insensitive file systems (macOS, Windows)
    assert "would overwrite its input" in _refused(job)
  else:
    stylize_job.run(job)
    assert sorted(os.listdir(tmp_path)) == ["PHOTO.png", "photo.png"]
  assert open(photo, "rb").read() == original


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_output_folders_are_created_and_unwritable_ones_fail_before_the_work(
    model_path, tmp_path, rng, capsys):
  photo = _photo(tmp_path / "photo.png", rng)
  folder = tmp_path / "in"
  folder.mkdir()
  for name in ("a.png", "b.png", "c.png"):
    _photo(folder / name, rng)
  blocked = tmp_path / "blocked"
  (blocked / "b.png").mkdir(parents=True)  # a folder where an output file should go
  stylize_job.run(Job(model=model_path, input=photo,
                      output=str(tmp_path / "new" / "deeper" / "out.png")))
  assert Image.open(tmp_path / "new" / "deeper" / "out.png").size == (56, 40)
  assert _refused(Job(model=model_path, input=photo, output="/proc/out.png")).startswith(
      "cannot write to /proc")
  stylize_job.run(Job(model=model_path, input=str(folder), output=str(tmp_path / "made")))
  assert sorted(os.listdir(tmp_path / "made")) == ["a.png", "b.png", "c.png"]
  assert "is a file, not a folder" in _refused(Job(
      model=model_path, input=photo, output=str(tmp_path / "photo.png" / "out.png")))
  capsys.readouterr()
  skip = stylize_job.run(Job(model=model_path, input=str(folder), output=str(blocked)))
  # (the tool's exit status 1 and "1 of 3 images failed": test_the_tools_streams_...)
  assert skip.failed == [str(folder / "b.png")] and len(skip.written) == 2
  stderr = capsys.readouterr().err
  assert "cannot write" in stderr and "b.png" in stderr
  assert sorted(os.listdir(blocked)) == ["a.png", "b.png", "c.png"]
  assert os.path.isdir(blocked / "b.png")


@pytest.mark.slow
def test_flags_out_of_range_and_help(model_path, tmp_path, rng):
  # All stop before TensorFlow loads: absl's flag checks, and --tile's.
  photo = _photo(tmp_path / "photo.png", rng)
  out = str(tmp_path / "out.png")
  common = ("--model", model_path, "--input", photo, "--output", out)
  results = run_tools(("stylize.py", *common, "--max_size", "-1"),
                      ("stylize.py", *common, "--max_size", "0"),
                      ("stylize.py", *common, "--batch_size", "0"),
                      ("stylize.py", *common, "--tile", "10"),
                      ("stylize.py", "--model", model_path, "--input", tmp_path,
                       "--output", tmp_path / "x.png", "--nosuchflag"),
                      ("stylize.py", "--help"))
  for result in results[:-1]:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert last_line(result.stderr).startswith("stylize.py: error:")
  assert not os.path.exists(out)
  assert results[-1].returncode == 0 and "--max_size" in results[-1].stdout


@pytest.mark.slow
def test_the_tools_streams_json_and_exit_statuses(model_path, tmp_path, rng):
  # One run on TensorFlow (the .keras model); the others on the shipped styles' LiteRT files.
  folder = tmp_path / "album"
  folder.mkdir()
  _photo(folder / "a.png", rng)
  (folder / "b.jpg").write_text("not an image")
  photo = _photo(tmp_path / "photo.jpg", rng)
  text = tmp_path / "text.jpg"
  text.write_text("not an image")
  blocker = tmp_path / "blocked" / "tensorflow"  # as in the light install: not there at all
  blocker.mkdir(parents=True)
  (blocker / "__init__.py").write_text(
      "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')")
  summary, failed, listed, usage, light = run_tools(
      ("stylize.py", "--model", model_path, "--input", folder, "--output", tmp_path / "o",
       "--json"),
      ("stylize.py", "--model", shipped.path("tflite"), "--input", text, "--json", "--style",
       "wave"),
      ("stylize.py", "--model", model_path, "--list_styles", "--json"),
      ("stylize.py", "--model", model_path, "--input", photo, "--output", model_path),
      ("stylize.py", "--model", model_path, "--input", photo, "--output", tmp_path / "l.png",
       {"PYTHONPATH": f"{blocker.parent}{os.pathsep}{ROOT}"}))
  # A folder with a bad file: the JSON alone on standard output, the rest on standard error,
  # and status 1 with the count as the last line.
  assert summary.returncode == 1, summary.stderr
  report = json.loads(summary.stdout)
  assert report["written"] == [str(tmp_path / "o" / "a.png")]
  assert report["failed"] == [str(folder / "b.jpg")]
  assert "stylize.py: skipped: cannot read image" in summary.stderr
  assert "wrote 1 image(s)" in summary.stderr
  assert last_line(summary.stderr) == "stylize.py: error: 1 of 2 images failed"
  # A failed image still gets its JSON summary.
  assert failed.returncode == 1 and "cannot read image" in last_line(failed.stderr)
  report = json.loads(failed.stdout)
  assert report["failed"] == [str(text)] and "cannot read image" in report["error"]
  assert json.loads(listed.stdout) == {"model": model_path, "styles": []}
  # A job's UsageError: status 2, one line.
  assert usage.returncode == 2 and usage.stderr.strip().splitlines() == [
      last_line(usage.stderr)]
  assert last_line(usage.stderr).startswith("stylize.py: error: ")
  assert "unsupported output" in usage.stderr
  assert light.returncode == 2 and len(light.stderr.strip().splitlines()) == 1, light.stderr
  assert "tensorflow is not installed" in light.stderr and "requirements.txt" in light.stderr
  # Standard input to standard output, bytes unchanged.
  lite = shipped.path("tflite")
  piped = subprocess.run(tool_command("stylize.py", "--model", lite, "--input", "-",
                                      "--output", "-", "--style", "wave"),
                         input=open(photo, "rb").read(), capture_output=True, env=tool_env(),
                         timeout=120)
  assert piped.returncode == 0, piped.stderr
  out = np.asarray(Image.open(io.BytesIO(piped.stdout)))
  expected = stylize.stylize_image(stylizers.load_stylizer(lite).set_style("wave"),
                                   np.asarray(Image.open(photo)))
  np.testing.assert_array_equal(out, expected)


def _huge_png(path, side=20000):
  """A PNG whose header claims side x side pixels: Pillow refuses it on opening."""
  import struct
  import zlib
  def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
  header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
  with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
  return str(path)


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_a_new_users_slips_each_get_one_line_or_do_what_was_meant(model_path, tmp_path, rng):
  # (one name in two folders from a glob: test_jobs_stylize's usage errors)
  mixed = tmp_path / "mixed"
  (mixed / "sub").mkdir(parents=True)
  _photo(mixed / "p.png", rng)
  (mixed / "notes.txt").write_text("not an image")
  photo = _photo(tmp_path / "photo.jpg", rng)
  into = tmp_path / "into"
  into.mkdir()
  # A glob leaves out what is not an image, as a folder does.
  stylize_job.run(Job(model=model_path, input=str(mixed / "*"),
                      output=str(tmp_path / "globbed")))
  assert os.listdir(tmp_path / "globbed") == ["p.png"]
  # A folder as the output of one image: the image's name inside it.
  stylize_job.run(Job(model=model_path, input=photo, output=str(into)))
  assert os.listdir(into) == ["photo.jpg"]
  # A decompression bomb: one line, nothing written.
  bomb = stylize_job.run(Job(model=model_path, input=_huge_png(tmp_path / "huge.png"),
                             output=str(tmp_path / "huge_out.png")))
  assert "exceeds limit" in bomb.error and "\n" not in bomb.error
  assert not (tmp_path / "huge_out.png").exists()
  # Standard input in a format the tools do not read: named as such, not as a temp file.
  gif = io.BytesIO()
  Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save(gif, format="GIF")
  with pytest.raises(cli.UsageError) as info:
    stylize_job.run(Job(model=model_path, input="-", output=str(tmp_path / "g.png")),
                    read_stdin=gif.getvalue)
  assert "standard input holds a GIF image" in str(info.value)
  assert "/tmp" not in str(info.value).replace(str(tmp_path), "")


@pytest.mark.slow
def test_folders_and_globs_skip_our_own_default_outputs_and_say_how_many(tmp_path, rng):
  # The shipped styles on LiteRT: no TensorFlow to wait for.
  photos = tmp_path / "photos"
  photos.mkdir()
  for name in ("chicago.jpg", "paris.jpg"):
    _photo(photos / name, rng)
  first, = run_tools(("stylize.py", "--input", photos / "chicago.jpg", "--style", "wave"))
  assert first.returncode == 0 and (photos / "chicago_stylized.jpg").exists(), first.stderr
  globbed, folder, only_ours, again = run_tools(
      ("stylize.py", "--input", photos / "*.jpg", "--output", tmp_path / "g", "--style",
       "wave"),
      ("stylize.py", "--input", photos, "--output", tmp_path / "f", "--style", "wave"),
      ("stylize.py", "--input", photos / "*_stylized.jpg", "--output", tmp_path / "o",
       "--style", "wave"),
      # One file named as such is stylized as asked.
      ("stylize.py", "--input", photos / "chicago_stylized.jpg", "--output",
       tmp_path / "again.jpg", "--style", "wave"))
  skipped = ("skipped 1 earlier result named NAME_stylized.EXT (this tool's output for one "
             "image); name one as --input to stylize it again")
  for result, out in ((globbed, "g"), (folder, "f")):
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / out)) == ["chicago.jpg", "paris.jpg"]
    assert [line for line in result.stderr.splitlines() if "skipped" in line] == [
        f"stylize.py: {skipped}"]
  assert only_ours.returncode == 2 and only_ours.stderr.strip().splitlines() == [
      f"stylize.py: error: no images found for --input {photos / '*_stylized.jpg'} (images: "
      f".jpg, .jpeg, .png, .webp, .bmp); {skipped}"]
  assert again.returncode == 0 and (tmp_path / "again.jpg").exists(), again.stderr
