"""A run folder's upkeep, in-process on files alone (test_train_lib sees it inside whole
training runs)."""

import os
import signal

import pytest

from fastchi_tf import config as config_lib
from fastchi_tf import resume_checks
from fastchi_tf import run_folder
from test_config import make_config
from test_config import paths  # noqa: F401  (a fixture)


def test_a_held_folder_is_refused_and_released_after(tmp_path):
  with run_folder.lock_folder(str(tmp_path)):
    assert os.listdir(tmp_path) == [run_folder.LOCK_FILE]
    with pytest.raises(run_folder.InUseError, match=rf"^{tmp_path} is in use by another "
                       rf"training run \(pid {os.getpid()}\)$"):
      with run_folder.lock_folder(str(tmp_path)):
        pass
  assert os.listdir(tmp_path) == []  # the lock file goes with its holder
  with pytest.raises(ValueError, match=r"^cannot write to .*missing: No such file"):
    with run_folder.lock_folder(str(tmp_path / "missing")):
      pass


def test_the_loss_log_is_trimmed_to_the_checkpoint(tmp_path):
  path = str(tmp_path / run_folder.LOSS_LOG)
  run_folder.trim_loss_log(path, 2)  # no log yet: nothing to do
  assert not os.path.exists(path)
  (tmp_path / run_folder.LOSS_LOG).write_text("step,total\n1,5\n2,4\n3,3\n4,2\n")
  run_folder.trim_loss_log(path, 2)  # a killed run logged steps 3 and 4
  assert open(path).read().splitlines() == ["step,total", "1,5", "2,4"]
  run_folder.trim_loss_log(path, 9)
  assert open(path).read().splitlines() == ["step,total", "1,5", "2,4"]


def test_the_loss_log_gains_the_columns_it_lacks(tmp_path):
  path = str(tmp_path / run_folder.LOSS_LOG)
  columns = ("step", "total", "temporal")
  assert run_folder.extend_loss_log(path, columns) == columns  # no log yet
  (tmp_path / run_folder.LOSS_LOG).write_text("")  # killed before its header
  assert run_folder.extend_loss_log(path, columns) == columns
  (tmp_path / run_folder.LOSS_LOG).write_text("step,total,tv\n1,5,0.1\n")
  # A run resumed with the temporal term on: its column comes last, "nan" before.
  assert run_folder.extend_loss_log(path, columns) == ("step", "total", "tv", "temporal")
  assert open(path).read().splitlines() == ["step,total,tv,temporal", "1,5,0.1,nan"]
  assert sorted(os.listdir(tmp_path)) == [run_folder.LOSS_LOG]  # no temporary file left


def test_a_failed_start_removes_what_it_wrote_and_nothing_else(tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  (tmp_path / "checkpoint").write_text("from before")
  before = set(os.listdir(tmp_path))
  for name in ("config.json", run_folder.LOSS_LOG, "ckpt-1.index", "events.out.tfevents.1",
               "later.txt"):
    (tmp_path / name).write_text("")
  (tmp_path / "ckpt-2_temp").mkdir()
  run_folder.remove_written(str(tmp_path), before, all_run_files=False)  # a run that saved
  assert "ckpt-2_temp" not in os.listdir(tmp_path)
  assert "ckpt-1.index" in os.listdir(tmp_path)
  run_folder.remove_written(str(tmp_path), before, all_run_files=True)  # a new run
  assert sorted(os.listdir(tmp_path)) == ["checkpoint", "later.txt", "notes.txt"]


def test_ctrl_c_becomes_a_request_and_the_handler_goes_after():
  was = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    with run_folder.StopRequest() as stop:
      assert not stop.requested
      os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: a request
      assert stop.requested
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # A handler of the caller's own is left alone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with run_folder.StopRequest():
      assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
  finally:
    signal.signal(signal.SIGINT, was)


def test_each_change_of_settings_is_kept_with_its_step(paths):  # noqa: F811
  run = paths / "run"
  run.mkdir()
  first = make_config(paths)
  assert run_folder.history(str(run)) == []  # never changed
  second = config_lib.replace(first, learning_rate=0.0005)
  run_folder.record_change(str(run), 1000, resume_checks.changed_settings(first, second),
                           first, when="2026-12-06T10:00:00+00:00")
  third = config_lib.replace(second, loss=dict(style_weight=3.0))
  run_folder.record_change(str(run), 1500, resume_checks.changed_settings(second, third),
                           second)
  entries = run_folder.history(str(run))
  assert [e["step"] for e in entries] == [1000, 1500]
  assert entries[0]["time"] == "2026-12-06T10:00:00+00:00"
  # Every earlier setting is kept, whole: the first run's config comes back from it.
  assert config_lib.TrainConfig.from_dict(entries[0]["previous"]) == first
  assert config_lib.TrainConfig.from_dict(entries[1]["previous"]) == second
  assert run_folder.history_lines(entries) == [
      "from step 1000: --learning_rate 0.001 -> 0.0005",
      "from step 1500: --style_weight 1.0 -> 3.0"]
  assert sorted(os.listdir(run)) == [run_folder.HISTORY_FILE]  # no temporary file left
