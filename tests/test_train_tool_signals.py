"""tools/train.py stopped by signals: SIGKILL (the next run resumes) and Ctrl-C (a clean
stop). Apart from test_train_tool.py so that the two test processes can share the work."""

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import train_lib
from fastchi_tf.jobs import train as train_job
from fastchi_tf.render_net import build_render_net
from test_train_tool import small_flags
from tool_runner import tool_command
from tool_runner import tool_env


def _wait_for(predicate, timeout, poll=0.05):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if predicate():
      return True
    time.sleep(poll)
  return False


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_weights(tmp_path, photo_folder, style_path):
  killed = str(tmp_path / "killed")
  proc = subprocess.Popen(
      tool_command("train.py", *small_flags(killed, photo_folder, style_path, "--steps", "1000",
                                            "--checkpoint_every", "2", "--deterministic")),
      env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    assert _wait_for(lambda: tf.train.latest_checkpoint(killed), timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  finally:
    proc.kill()
  saved = int(tf.train.latest_checkpoint(killed).rsplit("-", 1)[1])
  target = saved + 2
  # The killed run held the folder; its lock died with it, so the resumed run is not refused.
  assert open(os.path.join(killed, ".lock")).readline().strip() == str(proc.pid)
  # Resume: the same command, with as many steps as the uninterrupted run below.
  cfg = config_lib.TrainConfig.from_dict(json.load(open(os.path.join(killed, "config.json"))))
  cfg.steps = target
  assert train_lib.train(cfg, verbose=False).step == target
  cfg.model_dir = str(tmp_path / "whole")
  train_lib.train(cfg, verbose=False)
  a, b = tf.train.load_checkpoint(killed), tf.train.load_checkpoint(cfg.model_dir)
  keys = [k for k in a.get_variable_to_shape_map() if k.startswith("optimizer/")]
  assert len(keys) > 10
  for key in keys:
    np.testing.assert_array_equal(a.get_tensor(key), b.get_tensor(key), err_msg=key)
  steps = [int(r.split(",")[0]) for r in open(os.path.join(killed, "losses.csv"))
           .read().splitlines()[1:]]
  assert steps == list(range(1, target + 1))  # steps past the checkpoint were redone once


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C, kill
def test_ctrl_c_stops_with_one_line_status_130_and_an_intact_checkpoint(tmp_path, photo_folder,
                                                                       style_path, signum):
  run = str(tmp_path / "run")
  command = tool_command("train.py", *small_flags(
      run, photo_folder, style_path, "--steps", "100000", "--checkpoint_every", "100000",
      "--summary_every", "2"))
  first = subprocess.Popen(command, env=tool_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  try:
    progress = first.stderr.readline()
    assert progress.startswith("step "), progress
    # A second run of the same settings into the same folder meanwhile is refused; the first
    # goes on. In-process, through the tool's job (a tool run would start TensorFlow, ~6 s):
    # cli.run turns its cli.Failed into "train.py: error: MESSAGE" with status 1.
    same = config_lib.TrainConfig.from_dict(json.load(open(os.path.join(run, "config.json"))))
    with pytest.raises(cli.Failed) as refused:
      train_job.run(train_job.TrainJob(same))
    first.send_signal(signum)
    _, err = first.communicate(timeout=300)
  finally:
    first.kill()
  assert str(refused.value) == f"{run} is in use by another training run (pid {first.pid})"
  assert first.returncode == 130, err
  lines = err.strip().splitlines()
  assert all(line.startswith("step ") for line in lines[:-1]), err  # no traceback
  match = re.fullmatch(r"train.py: interrupted; stopped at step (\d+); checkpoint ckpt-(\d+) "
                       r"\(step (\d+)\) is intact; the same command resumes from it", lines[-1])
  assert match and len(set(match.groups())) == 1, lines[-1]
  step = int(match.group(1))
  # The checkpoint restores, and the log holds exactly the steps it holds.
  latest = tf.train.latest_checkpoint(run)
  assert latest.endswith(f"ckpt-{step}")
  model = build_render_net("inception", 8, residual_blocks=1)  # small_flags'
  tf.train.Checkpoint(model=model).restore(latest).expect_partial() \
      .assert_existing_objects_matched()
  assert int(tf.train.load_checkpoint(run).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == step
  steps = [int(r.split(",")[0]) for r in open(os.path.join(run, "losses.csv"))
           .read().splitlines()[1:]]
  assert steps == list(range(1, step + 1))
