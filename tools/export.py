r"""Exports a training run's latest checkpoint.

  python tools/export.py --model_dir runs/mosaic --export_dir export/mosaic [--tflite]

Writes saved_model/ (serving_default: uint8 images -> uint8 images, any size), model.keras
(loads with safe_mode=True) and, with --tflite, model_float32.tflite and model_float16.tflite,
each checked against the SavedModel.
"""

import sys

from absl import app
from absl import flags

from fastchi_tf import export

flags.DEFINE_string("model_dir", None, "Training run folder.")
flags.DEFINE_string("export_dir", None, "Folder to write the exported models to.")
flags.DEFINE_bool("tflite", False, "Also write float32 and float16 TFLite models.")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    sys.exit(f"export.py: error: unexpected arguments {argv[1:]}")
  if not FLAGS.model_dir or not FLAGS.export_dir:
    sys.exit("export.py: error: --model_dir and --export_dir are required")
  try:
    differences = export.export_all(FLAGS.model_dir, FLAGS.export_dir, FLAGS.tflite)
  except (export.ExportError, FileNotFoundError) as e:
    sys.exit(f"export.py: error: {e}")
  for precision, diff in differences.items():
    print(f"TFLite {precision}: max difference to the SavedModel {diff} uint8 levels")
  print(f"exported to {FLAGS.export_dir}")


if __name__ == "__main__":
  app.run(main)
