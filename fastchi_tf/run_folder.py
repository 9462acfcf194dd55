"""A training run's folder: its files, the lock that holds it, and their upkeep.

The names of the files a run writes, the lock a run holds its folder with (`lock_folder`),
the Ctrl-C that waits for the files to be whole (`StopRequest`), the loss log kept in step
with the checkpoint (`trim_loss_log`, `extend_loss_log`), the removal of what a failed new
run wrote (`remove_written`), and the history of settings a run was resumed with
(`record_change`). train_lib runs the trainer in it. No TensorFlow import and nothing of
the configurations: `fastchi info RUN` reads a run's history on the light install.
"""

import contextlib
import csv
import dataclasses
import datetime
import fnmatch
import json
import os
import shutil
import signal
import threading
from typing import Any, Dict, Iterator, List, Optional

from fastchi_tf.light import io_utils
from fastchi_tf.light import locks

LOSS_LOG = "losses.csv"  # every step's losses (train_lib.TERMS and temporal)
LOCK_FILE = ".lock"  # see lock_folder
# Each resume with changed settings, one JSON object a line (see record_change).
HISTORY_FILE = "config_history.jsonl"
# Files a run writes directly in its folder (besides checkpoints and summaries): none of them
# may be one of the run's inputs (config.TrainConfig.check).
RUN_FILES = ("config.json", LOSS_LOG, "loss_curve.png", "checkpoint", LOCK_FILE,
             HISTORY_FILE)
# What a folder may hold before its run's config.json: the lock (a run that stopped right
# after taking it), the worker folders of a multi-worker run, and hidden files (temporary
# ones of atomic writes and write checks).
BEFORE_CONFIG = (LOCK_FILE, "workers")
# What a run writes into its folder, and removes when it fails before its first checkpoint
# (the lock goes when its holder lets go).
_WRITTEN = ("config.json", LOSS_LOG, "loss_curve.png", "checkpoint", "ckpt-*",
            "events.out.tfevents.*", HISTORY_FILE)


class InUseError(RuntimeError):
  """Another training run holds the folder."""


@contextlib.contextmanager
def lock_folder(folder: str) -> Iterator[None]:
  """Holds `folder` for this process; raises InUseError if another run holds it.

  An advisory lock on `folder`/.lock (fastchi_tf.light.locks): a dead run, SIGKILL included,
  never leaves the folder stuck, and the file goes when the run ends in any other way. A
  refused run changes nothing: the file it opens is already there.
  """
  with contextlib.ExitStack() as stack:
    try:
      stack.enter_context(locks.hold(os.path.join(folder, LOCK_FILE)))
    except locks.InUseError as e:
      raise InUseError(f"{folder} is in use by another training run (pid {e.pid})") from None
    except OSError as e:
      raise ValueError(f"cannot write to {folder}: {e.strerror}") from None
    yield


class StopRequest:
  """Turns Ctrl-C into a request the loop honours between calls of the compiled loop.

  A KeyboardInterrupt raised wherever it lands could cut a checkpoint or a log row in half.
  The signal cannot reach Python during a compiled call anyway, so stopping after it costs
  no responsiveness. Only the main thread receives signals; a SIGINT the caller ignores or
  handles itself is left alone.
  """

  # SIGTERM and SIGHUP (kill, timeout, a closed terminal) too where the tool made them
  # interrupts (cli.run).
  SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

  def __init__(self):
    self.requested = False
    self._installed = []

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        if signal.getsignal(signum) is signal.default_int_handler:
          signal.signal(signum, self._handle)
          self._installed.append(signum)
    return self

  def _handle(self, signum, frame):
    del frame
    if signum == signal.SIGHUP:  # the terminal is gone: writing to it would fail (EIO)
      devnull = os.open(os.devnull, os.O_WRONLY)
      os.dup2(devnull, 1)
      os.dup2(devnull, 2)
      os.close(devnull)
    self.requested = True

  def __exit__(self, *exc):
    for signum in self._installed:
      signal.signal(signum, signal.default_int_handler)


def trim_loss_log(path: str, step: int) -> None:
  """Drops rows past `step`: a killed run logged steps its checkpoint does not hold."""
  if not os.path.exists(path):
    return
  with open(path, newline="") as f:
    rows = list(csv.reader(f))
  kept = rows[:1] + [r for r in rows[1:] if int(r[0]) <= step]
  if len(kept) != len(rows):
    with io_utils.atomic_path(path) as tmp:
      with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)


def extend_loss_log(path: str, columns: tuple) -> tuple:
  """The columns the loss log at `path` goes on with: its own, and any of `columns` it lacks
  added (with "nan" in the earlier rows), e.g. a run resumed with the temporal term on."""
  if not os.path.exists(path) or os.path.getsize(path) == 0:
    return columns
  with open(path, newline="") as f:
    rows = list(csv.reader(f))
  old = tuple(rows[0])
  added = tuple(c for c in columns if c not in old)
  if added:
    with io_utils.atomic_path(path) as tmp:
      with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([old + added] + [r + ["nan"] * len(added) for r in rows[1:]])
  return old + added


def remove_written(folder: str, before: set, all_run_files: bool) -> None:
  """Removes the run files `folder` gained since `before`: all of them, or only unfinished
  checkpoint folders (ckpt-N_temp, which a failed save leaves)."""
  patterns = _WRITTEN if all_run_files else ("ckpt-*_temp*",)
  for name in set(os.listdir(folder)) - before:
    if any(fnmatch.fnmatch(name, p) for p in patterns):
      path = os.path.join(folder, name)
      if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
      else:
        os.remove(path)


def record_change(model_dir: str, step: int, changes: List[str], previous: Any,
                  when: Optional[str] = None) -> None:
  """Adds a resume with changed settings to the run's HISTORY_FILE (written whole,
  atomically): the step from which the new settings train, the changes as
  the resume's check words them, and every earlier setting (`previous`, a
  config.TrainConfig), which config.json no longer holds once it records the new ones."""
  entry = {"step": step, "time": when or datetime.datetime.now(datetime.timezone.utc)
           .isoformat(timespec="seconds"), "changes": changes,
           "previous": dataclasses.asdict(previous)}
  lines = [json.dumps(e, sort_keys=True) for e in history(model_dir)] + [
      json.dumps(entry, sort_keys=True)]
  io_utils.write_text(os.path.join(model_dir, HISTORY_FILE), "\n".join(lines) + "\n")


def history(model_dir: str) -> List[Dict[str, Any]]:
  """The run's recorded setting changes, oldest first ([] when it never changed)."""
  path = os.path.join(model_dir, HISTORY_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def history_lines(entries: List[Dict[str, Any]]) -> List[str]:
  """ "from step 1500: --learning_rate 0.001 -> 0.0005" per entry of `history`."""
  return [f"from step {e['step']}: {'; '.join(e['changes'])}" for e in entries]
