import os

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
