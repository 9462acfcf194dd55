import json
import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import config as config_lib
from fastchi_tf import train_lib
from tool_runner import last_line
from tool_runner import run_tool
from tool_runner import tool_command
from tool_runner import tool_env


def small_flags(model_dir, photo_folder, style_path, *extra):
  return ["--model_dir", model_dir, "--train_data", photo_folder, "--style_image", style_path,
          "--network", "inception", "--width", "8", "--loss_net", "vgg16",
          "--loss_weights", "hed", "--image_size", "32", "--batch_size", "4", "--seed", "1",
          *extra]


def test_flags_reach_the_saved_config(tmp_path, photo_folder, style_path):
  run = str(tmp_path / "run")
  result = run_tool("train.py", *small_flags(
      run, photo_folder, style_path, "--steps", "2", "--learning_rate", "0.005",
      "--style_weight", "3", "--loss_reduction", "sum", "--upsample", "transpose",
      "--strategy", "mirrored", "--cpu_devices", "2", "--style_layers", "relu1_2,relu2_2"))
  assert result.returncode == 0, result.stderr
  assert "trained to step 2" in result.stdout
  assert "step 2/2" in result.stderr and "ETA" in result.stderr  # the progress line
  cfg = json.load(open(os.path.join(run, "config.json")))
  assert cfg["learning_rate"] == 0.005 and cfg["loss"]["style_weight"] == 3
  assert cfg["loss"]["reduction"] == "sum" and cfg["render"]["upsample"] == "transpose"
  assert cfg["loss"]["style_layers"] == ["relu1_2", "relu2_2"] and cfg["cpu_devices"] == 2


@pytest.mark.parametrize("flags,message", [
    (["--style_image", "/nonexistent/style.jpg"], "style image not found: /nonexistent/style.jpg"),
    (["--train_data", "/nonexistent"], "training data folder not found"),
    (["--batch_size", "3", "--strategy", "mirrored", "--cpu_devices", "2"],
     "cannot be shared by 2 replicas"),
    (["--train_data", "tfds:not_a_dataset"], "unknown tensorflow-datasets dataset"),
    (["--loss_net", "vgg19"], "--loss_weights=hed is a VGG16 backbone"),
    (["--devices", "0,1"], "--devices needs --strategy=mirrored"),
    (["--strategy", "multi_worker"], "needs the TF_CONFIG environment variable"),
    (["--style_layers", "relu7_1"], "unknown vgg16 layer 'relu7_1'"),
    (["--mixed_precision"], "--mixed_precision needs a GPU; none found"),
])
def test_bad_input_gets_one_clear_line_and_leaves_no_model_dir(tmp_path, photo_folder,
                                                              style_path, flags, message):
  run = str(tmp_path / "run")
  result = run_tool("train.py", *small_flags(run, photo_folder, style_path, "--steps", "1"),
                    *flags, TF_CONFIG="")
  assert result.returncode != 0
  assert message in last_line(result.stderr)
  assert last_line(result.stderr).startswith("train.py: error:")
  assert not os.path.exists(run)


def _wait_for(predicate, timeout, poll=0.05):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if predicate():
      return True
    time.sleep(poll)
  return False


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


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_two_workers_train_in_sync(tmp_path, photo_folder, style_path):
  run = str(tmp_path / "run")
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  procs = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
    procs.append(subprocess.Popen(
        tool_command("train.py", *small_flags(run, photo_folder, style_path, "--steps", "3",
                                              "--checkpoint_every", "3",
                                              "--strategy", "multi_worker")),
        env=tool_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True))
  try:
    outputs = [p.communicate(timeout=240) for p in procs]
  finally:
    for p in procs:
      p.kill()
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-2000:]
  chief = tf.train.load_checkpoint(run)
  worker = tf.train.load_checkpoint(os.path.join(run, "workers", "worker_1"))
  keys = [k for k in chief.get_variable_to_shape_map()
          if k.startswith("optimizer/_trainable_variables/")]
  assert len(keys) > 10
  for key in keys:
    np.testing.assert_array_equal(chief.get_tensor(key), worker.get_tensor(key), err_msg=key)
  assert os.path.exists(os.path.join(run, "config.json"))
  assert not os.path.exists(os.path.join(run, "workers", "worker_1", "config.json"))
  assert int(chief.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 3
