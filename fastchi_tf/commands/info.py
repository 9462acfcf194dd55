r"""Prints what FastChi-TF runs on here: versions, devices, threads and model files.

  fastchi info            (or python -m fastchi_tf info)

With --json, the same as one JSON object; --threads N shows the setting the other commands
take. TensorFlow is reported if it is installed (the
light install has only LiteRT); importing it takes a few seconds.
"""

import json
import os
import sys

from absl import flags

from fastchi_tf import cli

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
  files = {}
  for kind in ("tflite", "keras"):
    try:
      path = shipped.path(kind)
      files[kind] = {"path": path, "bytes": os.path.getsize(path)}
    except shipped.MissingError as e:
      files[kind] = {"missing": str(e)}
  info["shipped_models"] = files
  return info


def main(argv):
  del argv
  info = gather()
  if FLAGS.json:
    print(json.dumps(info, indent=1))
    return
  for key, value in info.items():
    if key == "shipped_models":
      for kind, entry in value.items():
        print(f"shipped {kind}: " + (f"{entry['path']} ({entry['bytes'] / 1e6:.1f} MB)"
                                     if "path" in entry else entry["missing"]))
    elif key == "devices":
      print(f"devices: {', '.join(value) if value else 'none found (TensorFlow not installed)'}")
    elif isinstance(value, dict):
      print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    else:
      print(f"{key}: {value if value is not None else 'not installed'}")


if __name__ == "__main__":
  cli.run(main)
