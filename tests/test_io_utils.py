import os
import subprocess
import sys

import pytest

from fastchi_tf.light import io_utils


def test_atomic_path_leaves_nothing_on_error_and_replaces_on_success(tmp_path):
  target = tmp_path / "out.txt"
  target.write_text("old")
  with pytest.raises(RuntimeError):
    with io_utils.atomic_path(str(target)) as tmp:
      open(tmp, "w").write("half")
      raise RuntimeError("stop")
  assert os.listdir(tmp_path) == ["out.txt"] and target.read_text() == "old"
  io_utils.write_text(str(target), "new")
  assert os.listdir(tmp_path) == ["out.txt"] and target.read_text() == "new"
  assert oct(os.stat(target).st_mode & 0o777) == oct(0o666 & ~io_utils.UMASK)


def test_same_file_is_decided_by_the_file_system_not_the_spelling(tmp_path):
  photo = tmp_path / "photo.png"
  photo.write_bytes(b"x")
  (tmp_path / "sub").mkdir()
  os.symlink(photo, tmp_path / "soft.png")
  os.link(photo, tmp_path / "hard.png")
  for other in ("soft.png", "hard.png", "sub/../photo.png"):
    with pytest.raises(io_utils.OverwriteError, match="would overwrite its input"):
      io_utils.check_not_inputs([str(tmp_path / other)], [str(photo)])
    with pytest.raises(io_utils.OverwriteError):  # and the other way round
      io_utils.check_not_inputs([str(photo)], [str(tmp_path / other)])
  io_utils.check_not_inputs([str(tmp_path / "new.png")], [str(photo)])  # not there yet: fine


def test_is_within_follows_links_and_dots(tmp_path):
  run = tmp_path / "runs" / "a"
  run.mkdir(parents=True)
  os.symlink(tmp_path / "runs", tmp_path / "link")
  assert io_utils.is_within(str(run), str(tmp_path / "runs"))
  assert io_utils.is_within(str(tmp_path / "link" / "a"), str(tmp_path / "runs"))
  assert io_utils.is_within(str(run), str(tmp_path / "runs" / "a" / ".." / "a"))
  assert not io_utils.is_within(str(tmp_path / "runs"), str(run))
  assert not io_utils.is_within(str(run), str(tmp_path / "missing"))


def test_prepare_output_creates_folders_and_refuses_what_cannot_hold_a_file(tmp_path):
  created = io_utils.prepare_output(str(tmp_path / "a" / "b" / "out.png"))
  assert created == [str(tmp_path / "a"), str(tmp_path / "a" / "b")]
  io_utils.remove_empty(created)
  assert os.listdir(tmp_path) == []
  (tmp_path / "file").write_text("x")
  with pytest.raises(ValueError, match="is a file, not a folder"):
    io_utils.prepare_output(str(tmp_path / "file" / "out.png"))
  with pytest.raises(ValueError, match="is a folder"):
    io_utils.prepare_output(str(tmp_path))
  with pytest.raises(ValueError, match="cannot write to /proc"):  # read-only even for root
    io_utils.prepare_output("/proc/out.png")
  with pytest.raises(ValueError, match="is a file, not a folder"):
    io_utils.prepare_folder(str(tmp_path / "file"))
  assert io_utils.prepare_folder(str(tmp_path / "new")) == [str(tmp_path / "new")]


def test_quiet_stderr_nests_across_threads_and_restores_the_console():
  import concurrent.futures
  before = os.fstat(2)
  def nested(_):
    with io_utils.quiet_stderr():
      with io_utils.quiet_stderr():
        os.write(2, b"")  # fd 2 is usable inside
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(nested, range(40)))
  after = os.fstat(2)
  assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux's /proc")
def test_a_folder_that_takes_no_new_files_is_named_as_such():
  # Writing under /proc said "No such file or directory" about a folder that exists.
  for folder in ("/proc", "/proc/self"):
    with pytest.raises(ValueError) as e:
      io_utils.prepare_output(os.path.join(folder, "out.png"))
    assert str(e.value) == (f"cannot write to {folder}: no file can be created there (a proc "
                            "file system, made by the kernel)")


_WRITER = """
import sys
from fastchi_tf.light import io_utils
try:
  io_utils.write_stdout(b"x" * int(sys.argv[1]))
except io_utils.StdoutClosedError as e:
  print(f"error: {e}", file=sys.stderr)
  sys.exit(1)
print("wrote", file=sys.stderr)
"""


def test_a_reader_that_stops_early_is_one_error_not_a_traceback():
  # As `fastchi stylize --output - | head -c 10`: the reader takes 10 bytes and goes. (A
  # megabyte: more than a pipe holds, so the writer cannot have finished before.)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(10**6)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=root))
  assert len(os.read(proc.stdout.fileno(), 10)) == 10
  proc.stdout.close()
  err = proc.stderr.read().decode()
  assert proc.wait(timeout=60) == 1 and err == (
      "error: standard output was closed before everything written to it was read (its "
      "reader, such as head, stopped early)\n"), err


def test_a_reader_that_reads_everything_is_no_error():
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-c", _WRITER, str(10**6)], capture_output=True,
                          env=dict(os.environ, PYTHONPATH=root), timeout=60)
  assert result.returncode == 0 and len(result.stdout) == 10**6, result.stderr


@pytest.mark.slow
def test_fastchi_stylize_to_a_pipe_closed_early_says_so_in_one_line(tmp_path):
  # fastchi stylize --output - | head -c 10 gave a BrokenPipeError traceback, or exit 0 and
  # "wrote standard output" when the pipe had taken part of the image.
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from tool_runner import tool_command, tool_env  # pylint: disable=g-import-not-at-top
  photo = tmp_path / "noise.png"  # noise: a stylized PNG of a megabyte, more than a pipe holds
  Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 700, 3), np.uint8)).save(
      photo)
  proc = subprocess.Popen(tool_command("stylize.py", "--input", photo, "--style", "0",
                                       "--output", "-"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=tool_env())
  assert os.read(proc.stdout.fileno(), 10).startswith(b"\x89PNG")
  proc.stdout.close()
  err = proc.stderr.read().decode()
  assert proc.wait(timeout=120) == 1 and err == (
      "stylize.py: error: standard output was closed before everything written to it was "
      "read (its reader, such as head, stopped early)\n"), err
