"""tools/stylize.py as a user meets it: outputs that would replace inputs, unwritable places,
flag ranges. Each case runs side by side with the others."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import build_render_net
from fastchi_tf import stylize
from fastchi_tf import stylizers
from tool_runner import last_line
from tool_runner import run_tools


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("model") / "model.keras")
  build_render_net("inception", width=8).save(path)
  return path


def _photo(path, rng, size=(40, 56)):
  Image.fromarray(rng.integers(0, 256, (*size, 3), np.uint8)).save(path)
  return str(path)


@pytest.mark.slow
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
  results = run_tools(*[("stylize.py", "--model", model_path, "--input", src, "--output", dst)
                        for src, dst in cases.values()])
  for name, result in zip(cases, results):
    assert result.returncode == 2, (name, result.stderr)
    line = last_line(result.stderr)
    assert "would overwrite its input" in line or "unsupported output" in line, (name, line)
    assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
    assert open(photo, "rb").read() == original, name


@pytest.mark.slow
def test_a_differently_cased_output_never_replaces_the_input(model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  original = open(photo, "rb").read()
  upper = str(tmp_path / "PHOTO.png")
  insensitive = os.path.exists(upper)  # case-insensitive file systems (macOS, Windows)
  result, = run_tools(("stylize.py", "--model", model_path, "--input", photo,
                       "--output", upper))
  assert open(photo, "rb").read() == original
  if insensitive:
    assert result.returncode == 2 and "would overwrite its input" in result.stderr
  else:
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["PHOTO.png", "photo.png"]


@pytest.mark.slow
def test_output_folders_are_created_and_unwritable_ones_fail_before_the_work(
    model_path, tmp_path, rng):
  photo = _photo(tmp_path / "photo.png", rng)
  folder = tmp_path / "in"
  folder.mkdir()
  for name in ("a.png", "b.png", "c.png"):
    _photo(folder / name, rng)
  blocked = tmp_path / "blocked"
  (blocked / "b.png").mkdir(parents=True)  # a folder where an output file should go
  new_file, ro, listing, not_folder, skip = run_tools(
      ("stylize.py", "--model", model_path, "--input", photo,
       "--output", tmp_path / "new" / "deeper" / "out.png"),
      ("stylize.py", "--model", model_path, "--input", photo, "--output", "/proc/out.png"),
      ("stylize.py", "--model", model_path, "--input", folder, "--output", tmp_path / "made"),
      ("stylize.py", "--model", model_path, "--input", photo,
       "--output", tmp_path / "photo.png" / "out.png"),
      ("stylize.py", "--model", model_path, "--input", folder, "--output", blocked))
  assert new_file.returncode == 0, new_file.stderr
  assert Image.open(tmp_path / "new" / "deeper" / "out.png").size == (56, 40)
  assert ro.returncode == 2
  assert last_line(ro.stderr).startswith("stylize.py: error: cannot write to /proc")
  assert listing.returncode == 0 and sorted(os.listdir(tmp_path / "made")) == [
      "a.png", "b.png", "c.png"]
  assert not_folder.returncode == 2 and "is a file, not a folder" in not_folder.stderr
  assert skip.returncode == 1, skip.stderr
  assert "cannot write" in skip.stderr and "b.png" in skip.stderr
  assert "1 of 3 images failed" in last_line(skip.stderr)
  assert sorted(os.listdir(blocked)) == ["a.png", "b.png", "c.png"]
  assert os.path.isdir(blocked / "b.png")


@pytest.mark.slow
def test_flags_out_of_range_and_help(model_path, tmp_path, rng):
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
def test_standard_streams_default_names_and_json(model_path, tmp_path, rng):
  import json
  import subprocess
  from tool_runner import tool_command
  from tool_runner import tool_env
  photo = _photo(tmp_path / "photo.jpg", rng)
  folder = tmp_path / "album"
  folder.mkdir()
  _photo(folder / "a.png", rng)
  default_file, default_folder, summary = run_tools(
      ("stylize.py", "--model", model_path, "--input", photo),
      ("stylize.py", "--model", model_path, "--input", folder),
      ("stylize.py", "--model", model_path, "--input", folder, "--output", tmp_path / "o",
       "--json"))
  assert default_file.returncode == 0, default_file.stderr
  assert Image.open(tmp_path / "photo_stylized.jpg").size == (56, 40)
  assert default_folder.returncode == 0 and os.listdir(tmp_path / "album_stylized") == ["a.png"]
  report = json.loads(summary.stdout)  # standard output holds the JSON alone
  assert report["written"] == [str(tmp_path / "o" / "a.png")] and report["failed"] == []
  assert "wrote 1 image(s)" in summary.stderr
  piped = subprocess.run(tool_command("stylize.py", "--model", model_path, "--input", "-",
                                      "--output", "-"), input=open(photo, "rb").read(),
                         capture_output=True, env=tool_env(), timeout=120)
  assert piped.returncode == 0, piped.stderr
  out = np.asarray(Image.open(io.BytesIO(piped.stdout)))
  expected = stylize.stylize_image(stylizers.load_stylizer(model_path),
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


@pytest.mark.slow
def test_a_new_users_slips_each_get_one_line_or_do_what_was_meant(model_path, tmp_path, rng):
  import json
  import subprocess
  from tool_runner import ROOT
  from tool_runner import tool_command
  from tool_runner import tool_env
  for folder in ("a", "b"):  # one name in two folders
    (tmp_path / folder).mkdir()
    _photo(tmp_path / folder / "x.png", rng)
  mixed = tmp_path / "mixed"
  (mixed / "sub").mkdir(parents=True)
  _photo(mixed / "p.png", rng)
  (mixed / "notes.txt").write_text("not an image")
  photo = _photo(tmp_path / "photo.jpg", rng)
  text = tmp_path / "text.jpg"
  text.write_text("not an image")
  into = tmp_path / "into"
  into.mkdir()
  blocker = tmp_path / "blocked" / "tensorflow"  # as in the light install: not there at all
  blocker.mkdir(parents=True)
  (blocker / "__init__.py").write_text(
      "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')")
  same, glob_mixed, in_folder, failed, listed, bomb, light = run_tools(
      ("stylize.py", "--model", model_path, "--input", tmp_path / "*" / "x.png", "--output",
       tmp_path / "same"),
      ("stylize.py", "--model", model_path, "--input", mixed / "*", "--output",
       tmp_path / "globbed"),
      ("stylize.py", "--model", model_path, "--input", photo, "--output", into),
      ("stylize.py", "--model", model_path, "--input", text, "--json"),
      ("stylize.py", "--model", model_path, "--list_styles", "--json"),
      ("stylize.py", "--model", model_path, "--input", _huge_png(tmp_path / "huge.png"),
       "--output", tmp_path / "huge_out.png"),
      ("stylize.py", "--model", model_path, "--input", photo, "--output", tmp_path / "l.png",
       {"PYTHONPATH": f"{blocker.parent}{os.pathsep}{ROOT}"}))
  # The second x.png would have replaced the first one's result: refused before any work.
  assert same.returncode == 2 and "would both be written to" in last_line(same.stderr)
  assert not (tmp_path / "same").exists()
  # A glob leaves out what is not an image, as a folder does.
  assert glob_mixed.returncode == 0, glob_mixed.stderr
  assert os.listdir(tmp_path / "globbed") == ["p.png"]
  # A folder as the output of one image: the image's name inside it.
  assert in_folder.returncode == 0 and os.listdir(into) == ["photo.jpg"]
  # A failed image still gets its JSON summary.
  assert failed.returncode == 1 and "cannot read image" in last_line(failed.stderr)
  report = json.loads(failed.stdout)
  assert report["failed"] == [str(text)] and "cannot read image" in report["error"]
  assert json.loads(listed.stdout) == {"model": model_path, "styles": []}
  assert bomb.returncode == 1 and len(bomb.stderr.strip().splitlines()) == 1, bomb.stderr
  assert "exceeds limit" in bomb.stderr and not (tmp_path / "huge_out.png").exists()
  assert light.returncode == 2 and len(light.stderr.strip().splitlines()) == 1, light.stderr
  assert "tensorflow is not installed" in light.stderr and "requirements.txt" in light.stderr
  # Standard input in a format the tools do not read: named as such, not as a temp file.
  gif = io.BytesIO()
  Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save(gif, format="GIF")
  piped = subprocess.run(tool_command("stylize.py", "--model", model_path, "--input", "-",
                                      "--output", tmp_path / "g.png"), input=gif.getvalue(),
                         capture_output=True, env=tool_env(), timeout=120)
  assert piped.returncode == 2 and b"standard input holds a GIF image" in piped.stderr
  assert b"/tmp" not in piped.stderr.replace(str(tmp_path).encode(), b"")


@pytest.mark.slow
def test_folders_and_globs_skip_our_own_default_outputs_and_say_how_many(tmp_path, rng):
  # The shipped styles on LiteRT: no TensorFlow to wait for.
  photos = tmp_path / "photos"
  photos.mkdir()
  for name in ("chicago.jpg", "paris.jpg"):
    _photo(photos / name, rng)
  first, = run_tools(("stylize.py", "--input", photos / "chicago.jpg", "--style", "wave"))
  assert first.returncode == 0 and (photos / "chicago_stylized.jpg").exists(), first.stderr
  globbed, folder, only_ours = run_tools(
      ("stylize.py", "--input", photos / "*.jpg", "--output", tmp_path / "g", "--style",
       "wave"),
      ("stylize.py", "--input", photos, "--output", tmp_path / "f", "--style", "wave"),
      ("stylize.py", "--input", photos / "*_stylized.jpg", "--output", tmp_path / "o",
       "--style", "wave"))
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
  # One file named as such is stylized as asked.
  again, = run_tools(("stylize.py", "--input", photos / "chicago_stylized.jpg", "--output",
                      tmp_path / "again.jpg", "--style", "wave"))
  assert again.returncode == 0 and (tmp_path / "again.jpg").exists(), again.stderr
