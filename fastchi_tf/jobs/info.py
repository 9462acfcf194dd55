"""`fastchi info`'s work: what FastChi-TF runs on here (gather), or what a training run
folder holds (run_info); the command prints either as lines or JSON. A run needs no
TensorFlow; gather imports it when it is installed, to list the devices.
"""

import os
import re
import sys

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import run_folder
from fastchi_tf.light import machine
from fastchi_tf.light import runtime as runtime_lib


def _version(package):
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return None


def gather() -> dict:
  """What `info` prints, as a dict."""
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  info = {"fastchi-tf": cli.version(), "python": sys.version.split()[0],
          "cpus": os.cpu_count(), "threads": cli.threads_setting()}
  for package in ("tensorflow", "keras", "ai-edge-litert", "numpy", "pillow",
                  "imageio-ffmpeg", "tf2onnx", "onnxruntime"):
    info[package] = _version(package)
  devices = []
  if info["tensorflow"]:
    cli.import_tensorflow_quietly()
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    devices = [d.name.replace("/physical_device:", "") for d in
               tf.config.list_physical_devices()]
    info["tensorflow_threads"] = {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "all cores",
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "automatic"}
  info["devices"] = devices
  info["vector_isa"] = machine.vector_isa()
  info["onednn_isa"] = machine.onednn_isa() if info["tensorflow"] else None
  gpu = any("GPU" in d.upper() for d in devices)
  info["runtime"] = runtime_lib.describe(gpu=gpu, isa=info["vector_isa"])
  files = {}
  for kind in ("tflite", "keras"):
    try:
      path = shipped.path(kind)
      files[kind] = {"path": path, "bytes": os.path.getsize(path)}
    except shipped.MissingError as e:
      files[kind] = {"missing": str(e)}
  info["shipped_models"] = files
  return info


def run_info(folder: str) -> dict:
  """What `info RUN` prints, as a dict; cli.UsageError when `folder` holds no training
  run."""
  try:
    cfg = config_lib.TrainConfig.of_run(folder)
  except (ValueError, TypeError) as e:
    raise cli.UsageError(f"{folder}/config.json is not a training run's settings ({e})") from None
  if cfg is None:
    what = "not found" if not os.path.exists(folder) else "not a training run (no config.json)"
    raise cli.UsageError(f"{folder}: {what}")
  step = None
  index = os.path.join(folder, "checkpoint")  # (read as text: no TensorFlow)
  if os.path.exists(index):
    with open(index) as f:
      found = re.search(r'^model_checkpoint_path: ".*?(\d+)"', f.read(), re.MULTILINE)
    step = int(found.group(1)) if found else None
  return {"run": folder, "step": step, "steps": cfg.steps,
          "styles": list(cfg.render.styles or ()) or None,
          "style_image": cfg.data.style_image, "learning_rate": cfg.learning_rate,
          "settings_changes": [{k: e[k] for k in ("step", "time", "changes")}
                               for e in run_folder.history(folder)]}
