"""The LiteRT runner, on a .tflite model converted here (the light path's module)."""

import numpy as np
import tensorflow as tf

from fastchi_tf import build_render_net
from fastchi_tf import export
from fastchi_tf import lite


def test_runner_resizes_for_each_shape_and_matches_the_saved_model(tmp_path, rng):
  model = build_render_net("inception", width=8)
  saved = str(tmp_path / "saved_model")
  export.export_saved_model(model, saved)
  runner = lite.TFLiteRunner(export.tflite_bytes(saved))
  serve = tf.saved_model.load(saved).signatures["serving_default"]
  for shape in ((24, 40, 3), (33, 17, 3), (24, 40, 3)):
    image = rng.integers(0, 256, shape, np.uint8)
    out = runner(image)
    reference = serve(images=tf.constant(image[None]))["stylized"].numpy()[0]
    assert out.shape == shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - reference).max() <= 1
