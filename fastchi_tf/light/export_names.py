"""The names exported models share: file names, signature names and the pad multiples.

One home for what export (writes them), shipped, lite, render_net and stylize (read them)
agree on. No TensorFlow import: the light path (LiteRT, model_files) reads these too.
"""

# An export folder's model files (export.export_all).
SAVED_MODEL = "saved_model"  # the SavedModel's folder
KERAS_FILE = "model.keras"
TFLITE_FILES = {"float32": "model_float32.tflite", "float16": "model_float16.tflite"}
ONNX_FILE = "model.onnx"
SAVED_MODEL_FILE = "saved_model.pb"  # what makes a folder a SavedModel

# The tiling signatures, which render an image in tiles with the whole image's instance-norm
# statistics (fastchi_tf.tiling): STATISTICS maps an image to every InstanceNorm layer's
# input statistics; WITH_STATISTICS renders an image (a tile) with those given.
STATISTICS = "statistics"
WITH_STATISTICS = "stylize_with_statistics"

# The sizes the render network takes (its PadToMultiple layer): sides a multiple of
# MULTIPLE and at least MINIMUM. The TFLite runner pads to them outside the graph.
MULTIPLE, MINIMUM = 4, 8
