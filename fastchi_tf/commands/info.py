r"""Prints what FastChi-TF runs on here: versions, devices, threads and model files; or
what a training run folder holds.

  fastchi info            (or python -m fastchi_tf info)
  fastchi info RUN        a run: its step, styles, and each change of settings it was
                          resumed with (--allow_config_change), from the step it took effect

With --json, the same as one JSON object; --threads N shows the setting the other commands
take. "runtime" says what --runtime auto runs here, photos and video (TFLite on XNNPACK or
TensorFlow on oneDNN), and why, from the CPU's vector ISA (fastchi_tf.light.runtime).
TensorFlow is reported if it is installed (the light install has only LiteRT); importing it
takes a few seconds. A run needs no TensorFlow.
"""

import json
import os
import re
import sys

from absl import flags

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import run_folder
from fastchi_tf.light import machine
from fastchi_tf.light import runtime as runtime_lib

flags.DEFINE_bool("json", False, "Print one JSON object instead of lines.")
cli.define_runtime_flags(device=False)  # --threads: shows what the other commands would use

FLAGS = flags.FLAGS


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
  """What `info RUN` prints, as a dict; ValueError when `folder` holds no training run."""
  try:
    cfg = config_lib.TrainConfig.of_run(folder)
  except (ValueError, TypeError) as e:
    raise ValueError(f"{folder}/config.json is not a training run's settings ({e})") from None
  if cfg is None:
    what = "not found" if not os.path.exists(folder) else "not a training run (no config.json)"
    raise ValueError(f"{folder}: {what}")
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


def _print_run(info):
  print(f"run: {info['run']}")
  print(f"step: {info['step'] if info['step'] is not None else 'none yet'} of {info['steps']}")
  print(f"styles: {', '.join(info['styles']) if info['styles'] else info['style_image']}")
  changes = info["settings_changes"]
  print("settings changes: " + ("none (trained with the settings of config.json throughout)"
                                if not changes else f"{len(changes)} (config_history.jsonl)"))
  for line in run_folder.history_lines(changes):
    print(f"  {line}")


def main(argv):
  if len(argv) > 2:
    cli.usage_error(f"info takes one run folder, got {len(argv) - 1}")
  if len(argv) == 2:
    try:
      info = run_info(argv[1])
    except ValueError as e:
      cli.usage_error(e)
    if FLAGS.json:
      print(json.dumps(info, indent=1))
    else:
      _print_run(info)
    return
  info = gather()
  if FLAGS.json:
    print(json.dumps(info, indent=1))
    return
  for key, value in info.items():
    if key == "shipped_models":
      for kind, entry in value.items():
        print(f"shipped {kind}: " + (f"{entry['path']} ({entry['bytes'] / 1e6:.1f} MB)"
                                     if "path" in entry else entry["missing"]))
    elif key == "vector_isa":
      onednn = f" (TensorFlow's oneDNN: {info['onednn_isa']})" if info["onednn_isa"] else ""
      print(f"vector ISA: {value}{onednn}")
    elif key == "onednn_isa":
      continue
    elif key == "runtime":
      print("runtime (--runtime auto): " + (
          f"{value['photos']} for photos and video" if value["photos"] == value["video"]
          else f"{value['photos']} for photos, {value['video']} for video"))
      print(f"  why: {value['why']}")
    elif key == "devices":
      print(f"devices: {', '.join(value) if value else 'none found (TensorFlow not installed)'}")
    elif isinstance(value, dict):
      print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    else:
      print(f"{key}: {value if value is not None else 'not installed'}")


main.takes_arguments = True  # fastchi info RUN (cli.run lets them through)


if __name__ == "__main__":
  cli.run(main)
