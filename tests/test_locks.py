"""Locks that name their holder (fastchi_tf/light/locks.py)."""

import errno
import os
import subprocess
import sys

import pytest

from fastchi_tf.light import locks


def test_a_held_lock_names_its_holder_and_goes_when_released(tmp_path):
  path = str(tmp_path / "job.lock")
  with locks.hold(path, "fastchi video"):
    assert open(path).read() == f"{os.getpid()}\nfastchi video\n"
    # flock is per open file: a second open, in this process too, is another job.
    with pytest.raises(locks.InUseError) as e:
      with locks.hold(path):
        pass
    assert (e.value.pid, e.value.holder) == (str(os.getpid()),
                                             f"fastchi video, pid {os.getpid()}")
    assert os.path.exists(path)  # the refused one leaves the holder's file alone
  assert not os.path.exists(path)
  with pytest.raises(ZeroDivisionError):  # released on an error as well
    with locks.hold(path):
      1 / 0  # pylint: disable=pointless-statement
  assert not os.path.exists(path)


def test_a_lock_file_removed_between_open_and_lock_is_opened_again(tmp_path, monkeypatch):
  # The holder before us removes the file after we opened it and before we lock it: our lock
  # would be on a file that no one else can find.
  path = str(tmp_path / "job.lock")
  open(path, "w").close()
  real_flock, calls = locks.fcntl.flock, []

  def flock(fd, operation):
    calls.append(fd)
    if len(calls) == 1:
      os.remove(path)  # as the releasing holder does, still locked
    return real_flock(fd, operation)

  monkeypatch.setattr(locks.fcntl, "flock", flock)
  with locks.hold(path):
    assert len(calls) == 2 and open(path).read().startswith(f"{os.getpid()}\n")
    monkeypatch.setattr(locks.fcntl, "flock", real_flock)
    with pytest.raises(locks.InUseError):  # the file found by its name is the held one
      with locks.hold(path):
        pass


def test_an_output_is_claimed_by_one_job_at_a_time(tmp_path):
  output = str(tmp_path / "out.mp4")
  assert locks.claim_path(output) == str(tmp_path / ".out.mp4.lock")
  assert locks.claim_path(str(tmp_path / "folder") + "/") == str(tmp_path / ".folder.lock")
  held = ("from fastchi_tf.light import locks; import sys\n"
          "with locks.claim(sys.argv[1], 'job A'):\n"
          "  print('held', flush=True); sys.stdin.read()")
  other = subprocess.Popen([sys.executable, "-c", held, output], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
  try:
    assert other.stdout.readline() == "held\n"
    with pytest.raises(locks.InUseError, match=rf"^{output} is being written by another job "
                       rf"\(job A, pid {other.pid}\); wait for it to finish or choose "
                       "another output$"):
      with locks.claim(output):
        pass
  finally:
    other.communicate("")
  assert not os.path.exists(locks.claim_path(output))
  with locks.claim(output):  # free again
    pass


def test_a_folder_whose_parent_cannot_be_written_is_claimed_inside(tmp_path, monkeypatch):
  folder = tmp_path / "out"
  folder.mkdir()
  real_hold = locks.hold

  def hold(path, program=""):
    if os.path.dirname(path) == str(tmp_path):  # (root may write anywhere)
      raise PermissionError(errno.EACCES, "Permission denied")
    return real_hold(path, program)

  monkeypatch.setattr(locks, "hold", hold)
  with locks.claim(str(folder)):
    assert os.listdir(folder) == [locks.INSIDE]
    with pytest.raises(locks.InUseError, match="is being written by another job"):
      with locks.claim(str(folder)):
        pass
  assert os.listdir(folder) == []
  with pytest.raises(PermissionError):  # a file's lock has nowhere else to go
    with locks.claim(str(tmp_path / "out.png")):
      pass


def test_jobs_writing_the_same_files_by_other_names_are_refused(tmp_path):
  # --output out/ and another job's --output out/a.jpg both got claims, and so did a folder
  # and a link to it: the lock's name came from the path as spelled.
  folder = tmp_path / "out"
  folder.mkdir()
  os.symlink(folder, tmp_path / "link")
  busy = "is being written by another job"
  for first, second in ((folder, tmp_path / "link"), (str(tmp_path / "link") + "/", folder),
                        (folder, folder / "a.jpg"), (folder / "a.jpg", tmp_path / "link"),
                        (tmp_path / "link" / "a.jpg", folder / "a.jpg")):
    with locks.claim(str(first)):
      with pytest.raises(locks.InUseError, match=busy):
        with locks.claim(str(second)):
          pass
    assert sorted(os.listdir(folder)) == [], (first, second)
  (folder / "sub").mkdir()
  with locks.claim(str(folder / "b.jpg")), locks.claim(str(folder / "sub")):
    with locks.claim(str(folder / "c.jpg")):  # other files, or a folder inside: no conflict
      pass
    with locks.claim(str(tmp_path / "other")):
      pass
