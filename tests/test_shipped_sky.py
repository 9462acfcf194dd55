"""The shipped collection paints a flat sky without the white oval (issue 35)."""

import json
import os

import numpy as np

from experiments.lib import artifacts
from fastchi_tf.light import lite

SHIPPED = os.path.join(os.path.dirname(__file__), "..", "fastchi_tf", "shipped")


def test_every_shipped_style_paints_a_flat_sky_without_a_bright_blob():
  # The collection shipped until the retrained one grew the same white oval in the sky of
  # every photo, in every style: its instance norms let a droplet grow in bright flat areas.
  runner = lite.TFLiteRunner(os.path.join(SHIPPED, "model_float16.tflite"))
  with open(os.path.join(SHIPPED, "training_config.json")) as f:
    names = json.load(f)["render"]["styles"]
  sky = artifacts.sky_scene()
  rows = artifacts.sky_rows(sky.shape[0])
  blobs = {name: artifacts.blob_pixels(runner(sky, np.eye(len(names), dtype=np.float32)[k]), rows)
           for k, name in enumerate(names)}
  assert len(blobs) == 6
  assert blobs == {name: 0 for name in names}
