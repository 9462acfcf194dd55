r"""Exports a training run's latest checkpoint.

  fastchi export --model_dir runs/mosaic --export_dir export/mosaic [--tflite] [--onnx]

Writes saved_model/ (serving_default: uint8 images -> uint8 images, any size), model.keras
(loads with safe_mode=True), with --tflite model_float32.tflite and model_float16.tflite, and
with --onnx model.onnx (tf2onnx; run with onnxruntime), each checked against the SavedModel.
The export folder is replaced whole, so it never mixes files of two models; a folder holding
anything else is refused.
"""

import os

from absl import flags

from fastchi_tf import cli

flags.DEFINE_string("model_dir", None, "Training run folder.")
flags.DEFINE_string("export_dir", None, "Folder to write the exported models to.")
flags.DEFINE_bool("tflite", False, "Also write float32 and float16 TFLite models.")
flags.DEFINE_bool("onnx", False, "Also write an ONNX model (needs tf2onnx and onnxruntime).")

FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require("model_dir", "export_dir")
  if not os.path.isdir(FLAGS.model_dir):
    cli.usage_error(f"--model_dir {FLAGS.model_dir} is not a folder" if
                    os.path.exists(FLAGS.model_dir) else
                    f"--model_dir {FLAGS.model_dir} not found")
  if not os.path.isfile(os.path.join(FLAGS.model_dir, "config.json")):
    cli.usage_error(f"--model_dir {FLAGS.model_dir} is not a training run (no config.json)")
  cli.import_tensorflow_quietly()
  from fastchi_tf import export
  try:
    export.check_export_dir(FLAGS.model_dir, FLAGS.export_dir)
    if FLAGS.onnx:
      export.check_onnx_available()  # before minutes of work, not after
  except export.ExportError as e:
    cli.usage_error(e)
  try:
    differences = export.export_all(FLAGS.model_dir, FLAGS.export_dir, FLAGS.tflite,
                                    onnx=FLAGS.onnx)
  except export.ExportError as e:
    cli.fail(e)
  except KeyboardInterrupt:
    cli.interrupted(f"{FLAGS.export_dir} was left as it was")
  for form, diff in differences.items():
    name = "ONNX (onnxruntime)" if form == "onnx" else f"TFLite {form}"
    print(f"{name}: max difference to the SavedModel {diff} uint8 levels")
  print(f"exported to {FLAGS.export_dir}")


if __name__ == "__main__":
  cli.run(main)
