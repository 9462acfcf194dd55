r"""Exports a training run's latest checkpoint.

  fastchi export --model_dir runs/mosaic --export_dir export/mosaic [--tflite] [--onnx]

Writes saved_model/ (serving_default: uint8 images -> uint8 images, any size), model.keras
(loads with safe_mode=True), with --tflite model_float32.tflite and model_float16.tflite, and
with --onnx model.onnx (tf2onnx; run with onnxruntime), each checked against the SavedModel.
The export folder is replaced whole, so it never mixes files of two models; a folder holding
anything else is refused.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf.jobs import export as export_job

flags.DEFINE_string("model_dir", None, "Training run folder.")
flags.DEFINE_string("export_dir", None, "Folder to write the exported models to.")
flags.DEFINE_bool("tflite", False, "Also write float32 and float16 TFLite models.")
flags.DEFINE_bool("onnx", False, "Also write an ONNX model (needs tf2onnx and onnxruntime).")

FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require("model_dir", "export_dir")
  differences = export_job.run(export_job.ExportJob(
      model_dir=FLAGS.model_dir, export_dir=FLAGS.export_dir, tflite=FLAGS.tflite,
      onnx=FLAGS.onnx))
  for form, diff in differences.items():
    name = "ONNX (onnxruntime)" if form == "onnx" else f"TFLite {form}"
    print(f"{name}: max difference to the SavedModel {diff} uint8 levels")
  print(f"exported to {FLAGS.export_dir}")


if __name__ == "__main__":
  cli.run(main)
