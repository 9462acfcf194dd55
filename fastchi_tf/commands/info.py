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

from absl import flags

from fastchi_tf import cli
from fastchi_tf import run_folder
from fastchi_tf.jobs import info as info_job

flags.DEFINE_bool("json", False, "Print one JSON object instead of lines.")
cli.define_runtime_flags(device=False)  # --threads: shows what the other commands would use

FLAGS = flags.FLAGS


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
    info = info_job.run_info(argv[1])
    if FLAGS.json:
      print(json.dumps(info, indent=1))
    else:
      _print_run(info)
    return
  info = info_job.gather()
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
