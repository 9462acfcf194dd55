"""The shipped collection paints a flat sky without the white oval (issue 35)."""

import numpy as np
import pytest

from experiments.lib import artifacts
from fastchi_tf import shipped
from fastchi_tf.light import lite


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_every_shipped_style_paints_a_flat_sky_without_a_bright_blob():
  # The collection shipped until the retrained one grew the same white oval in the sky of
  # every photo, in every style: its instance norms let a droplet grow in bright flat areas.
  runner = lite.TFLiteRunner(shipped.path("tflite"))
  names = shipped.training_config().render.styles
  sky = artifacts.sky_scene()
  rows = artifacts.sky_rows(sky.shape[0])
  eye = np.eye(len(names), dtype=np.float32)
  blobs = {name: artifacts.blob_pixels(runner(sky, eye[k]), rows)
           for k, name in enumerate(names)}
  assert len(blobs) == 6
  assert blobs == {name: 0 for name in names}
