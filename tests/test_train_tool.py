import json
import os
import shutil
import socket
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import config as config_lib
from tool_runner import tool_command
from tool_runner import tool_env


def small_flags(model_dir, photo_folder, style_path, *extra):
  return ["--model_dir", model_dir, "--train_data", photo_folder, "--style_image", style_path,
          "--network", "inception", "--width", "8", "--residual_blocks", "1",
          "--loss_net", "vgg16",
          "--loss_weights", "hed", "--image_size", "32", "--batch_size", "4", "--seed", "1",
          *extra]


def quiet_env():
  """The environment of a user who set nothing: no TF_CPP_MIN_LOG_LEVEL."""
  env = tool_env()
  del env["TF_CPP_MIN_LOG_LEVEL"]
  return env


@pytest.mark.slow
def test_flags_reach_the_saved_config(tmp_path, photo_folder, style_path):
  run = str(tmp_path / "run")
  result = subprocess.run(tool_command("train.py", *small_flags(
      run, photo_folder, style_path, "--steps", "2", "--learning_rate", "0.005",
      "--style_weight", "3", "--loss_reduction", "sum", "--upsample", "transpose",
      "--strategy", "mirrored", "--cpu_devices", "2", "--style_layers", "relu1_2,relu2_2")),
      env=quiet_env(), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert "trained to step 2" in result.stdout
  assert "step 2/2" in result.stderr and "ETA" in result.stderr  # the progress line
  # Only our own lines: no TensorFlow start-up (cuInit, oneDNN, cudart, absl::InitializeLog)
  # nor checkpoint "Sharding callback" lines.
  lines = result.stderr.strip().splitlines()
  assert lines and all(line.startswith("step ") for line in lines), result.stderr
  cfg = json.load(open(os.path.join(run, "config.json")))
  assert cfg["learning_rate"] == 0.005 and cfg["loss"]["style_weight"] == 3
  assert cfg["loss"]["reduction"] == "sum" and cfg["render"]["upsample"] == "transpose"
  assert cfg["loss_net"]["style_layers"] == ["relu1_2", "relu2_2"] and cfg["cpu_devices"] == 2


@pytest.mark.slow
def test_help_exits_0_and_every_numeric_flag_has_a_range():
  result = subprocess.run(tool_command("train.py", "--help"), env=tool_env(),
                          capture_output=True, text=True, timeout=60)
  assert result.returncode == 0 and "--style_image" in result.stdout
  kinds = [line.strip() for line in result.stdout.splitlines()
           if line.strip().startswith(("(an integer", "(a number", "(a finite", "(0 (off)"))]
  # width, shrink, residual blocks, tanh's gradient floor, 3 loss weights, 2 sizes, batch,
  # rate, clip norm, warm-up, loss jump, 3 step counts, cpus, seed, and the temporal term's
  # weight, 2 shifts, grid, blur, noise
  assert len(kinds) == 25
  assert "(an integer)" not in kinds and "(a number)" not in kinds  # unbounded


# (flags after small_flags', expected one line). {tmp}, {photos} and {style} are filled in.
# The tool's own runs (a subprocess each, ~1.5 CPU-s) cover each way a bad flag is found:
# absl's validator, the settings' check and cli.run's extra arguments.
TOOL_BAD_USAGE = [
    (["--style_image", "/nonexistent/style.jpg"], "style image not found: /nonexistent/style.jpg"),
    (["--batch_size", "0"], "flag --batch_size=0: --batch_size must be an integer from 1 to 4096"),
    (["extra"], "unexpected arguments ['extra']"),
]
# The same two ways in-process: absl's parse, then the train job's check.
BAD_USAGE = [
    (["--style_image", "{tmp}/run0"], "style image not found: {tmp}/run0"),
    (["--style_image", "{style},{style}"], "two style images are named 'ihc'"),
    (["--train_data", "/nonexistent"], "training data folder not found"),
    (["--train_data", "{style}"], "training data {style} is a file, not a folder"),
    (["--model_dir", "{style}"], "--model_dir {style} is a file, not a folder"),
    (["--train_data", "{tmp}/data", "--model_dir", "{tmp}/data/run"],
     "--model_dir {tmp}/data/run lies inside --train_data {tmp}/data: the run would train on "
     "its own outputs"),
    (["--residual_blocks", "7"],
     "flag --residual_blocks=7: --residual_blocks must be an integer from 1 to 6"),
    (["--image_size", "8"], "flag --image_size=8: --image_size must be an integer from 16 to 4096"),
    (["--learning_rate", "0"], "flag --learning_rate=0.0: --learning_rate must be a number above 0, at most 1"),
    (["--style_weight", "nan"], "flag --style_weight=nan: --style_weight must be a finite number >= 0"),
    (["--steps", "-1"], "flag --steps=-1: --steps must be an integer from 1 to 1000000000"),
    (["--model_dir="], "--model_dir is required"),
    (["--batch_size", "3", "--strategy", "mirrored", "--cpu_devices", "2"],
     "cannot be shared by 2 replicas"),
    (["--devices", "0,1"], "--devices needs --strategy=mirrored"),
    (["--finetune_from", "{tmp}/single"], "--finetune_from {tmp}/single is a single-style run; "
     "--finetune_from needs a multi-style run"),
]

# What the train job finds once TensorFlow has started (each tool run that starts it costs
# ~6 s), in-process: it raises cli.UsageError, which cli.run, as for the cases above, turns
# into the one line with status 2.
JOB_BAD_USAGE = [
    (["--strategy", "multi_worker"], "needs the TF_CONFIG environment variable"),
    (["--mixed_precision"], "--mixed_precision needs a GPU; none found"),
]


# What train_lib finds once TensorFlow has started, in-process: the tool turns each
# ValueError into the one line that the cases above check.
IN_PROCESS_BAD_USAGE = [
    (["--train_data", "tfds:not_a_dataset"], "unknown tensorflow-datasets dataset"),
    (["--loss_net", "vgg19"], "loss network weights 'hed' are a VGG16 backbone"),
    (["--style_layers", "relu7_1"], "unknown vgg16 layer 'relu7_1'"),
]


def test_settings_that_train_lib_refuses_leave_no_model_dir(tmp_path, photo_folder,
                                                            style_path):
  from fastchi_tf import train_lib
  from fastchi_tf.commands import train_flags
  from test_train_flags import parse_flags
  for i, (flags, message) in enumerate(IN_PROCESS_BAD_USAGE):
    run = str(tmp_path / f"run{i}")
    cfg = train_flags.from_flags(parse_flags(
        *small_flags(run, photo_folder, style_path, "--steps", "1"), *flags))
    cfg.check()  # what the tool checks before TensorFlow starts: these pass it
    with pytest.raises(ValueError) as info:
      train_lib.train(cfg, verbose=False)
    assert message in str(info.value) and "\n" not in str(info.value), info.value
    assert not os.path.exists(run)


def _bad_usage_names(tmp_path, photo_folder, style_path):
  """{tmp}, {photos}, {style} of the bad-usage cases, with {tmp}/data (training data that a
  run must not write into) and {tmp}/single (a single-style run's settings) made."""
  (tmp_path / "data").mkdir()
  photo = sorted(n for n in os.listdir(photo_folder) if n.endswith(".jpg"))[0]
  shutil.copy(os.path.join(photo_folder, photo), tmp_path / "data")
  (tmp_path / "single").mkdir()
  (tmp_path / "single" / "config.json").write_text(config_lib.named("tiny").to_json())
  return dict(tmp=str(tmp_path), photos=photo_folder, style=style_path, photo=photo)


@pytest.mark.slow
def test_bad_usage_gets_one_line_status_2_and_leaves_no_model_dir(tmp_path, photo_folder,
                                                                  style_path):
  names = _bad_usage_names(tmp_path, photo_folder, style_path)
  procs = []
  for i, (flags, message) in enumerate(TOOL_BAD_USAGE):  # all at once: each fails in a moment
    run = str(tmp_path / f"run{i}")
    flags = [f.format(**names) for f in flags]
    procs.append((run, message.format(**names), subprocess.Popen(
        tool_command("train.py", *small_flags(run, photo_folder, style_path, "--steps", "1"),
                     *flags),
        env=tool_env(TF_CONFIG=""), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)))
  try:
    errors = [p.communicate(timeout=300)[1] for _, _, p in procs]
  finally:
    for _, _, p in procs:
      p.kill()
  for (run, message, p), err in zip(procs, errors):
    assert p.returncode == 2, err
    assert err.startswith("train.py: error: ") and message in err and err.count("\n") == 1, err
    assert not os.path.exists(run)


def test_bad_flags_and_settings_are_refused_in_one_line_before_any_folder_is_made(
    tmp_path, photo_folder, style_path, monkeypatch):
  # What the tool's runs above turn into its one line: absl's IllegalFlagValueError while
  # parsing, or the job's UsageError (cli.run prints each as "train.py: error: ...").
  from absl import flags as absl_flags
  from fastchi_tf import cli
  from fastchi_tf.commands import train_flags
  from fastchi_tf.jobs import train as train_job
  from test_train_flags import parse_flags
  names = _bad_usage_names(tmp_path, photo_folder, style_path)
  monkeypatch.setenv("TF_CONFIG", "")  # a multi-worker run's variable, left empty
  for i, (flags, message) in enumerate(BAD_USAGE + JOB_BAD_USAGE):
    run = str(tmp_path / f"run{i}")
    message = message.format(**names)
    argv = small_flags(run, photo_folder, style_path, "--steps", "1",
                       *[f.format(**names) for f in flags])
    with pytest.raises((absl_flags.IllegalFlagValueError, cli.UsageError)) as info:
      train_job.run(train_job.TrainJob(train_flags.from_flags(parse_flags(*argv))))
    assert message in str(info.value) and "\n" not in str(info.value), (flags, info.value)
    assert not os.path.exists(run)
  assert os.listdir(tmp_path / "data") == [names["photo"]]


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_two_workers_train_in_sync(tmp_path, photo_folder, style_path):
  # A multi-style network (two styles), so that its per-example draw is checked across
  # workers too; one style takes the same path with a [1]-long style vector.
  styles = tmp_path / "styles"
  styles.mkdir()
  for name in ("a.png", "b.png"):
    shutil.copy(style_path, styles / name)
  style_path = str(styles)
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
  assert json.load(open(os.path.join(run, "config.json")))["render"]["styles"] == ["a", "b"]
  assert not os.path.exists(os.path.join(run, "workers", "worker_1", "config.json"))
  assert int(chief.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 3
