"""The bright-blob check (experiments/lib/artifacts.py) finds a white oval, not strokes."""

import numpy as np
import pytest

from experiments.lib import artifacts


def test_a_white_oval_in_the_sky_is_found_and_a_clean_sky_passes():
  sky = artifacts.sky_scene(120, 180)
  rows = artifacts.sky_rows(sky.shape[0])
  assert artifacts.blob_pixels(sky, rows) == 0
  y, x = np.mgrid[0:sky.shape[0], 0:sky.shape[1]]
  oval = ((x - 90) / 14.0) ** 2 + ((y - 70) / 7.0) ** 2 <= 1
  blob = sky.copy()
  blob[oval] = 250
  assert artifacts.blob_pixels(blob, rows) > 30  # its inside, where a 9x9 spot fits


def test_bright_strokes_are_not_a_blob():
  sky = artifacts.sky_scene(120, 180).astype(np.float64)
  rows = artifacts.sky_rows(sky.shape[0])
  # Thin light and dark strokes across the sky, as a painting's texture: bright, not flat.
  stripes = (np.arange(sky.shape[1]) // 2) % 2 == 0
  sky[:, stripes] = 250
  sky[:, ~stripes] *= 0.6
  assert artifacts.blob_pixels(sky.astype(np.uint8), rows) == 0


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_white_the_photo_already_had_is_not_a_blob():
  sky = artifacts.sky_scene()
  blob = sky.copy()
  blob[60:90, 100:140] = 255
  assert artifacts.blob_pixels(blob, photo=sky) > 30  # the photo was blue there
  snow = sky.copy()
  snow[60:90, 100:140] = 245  # the photo was white there: the painting keeps it
  assert artifacts.blob_pixels(blob, photo=snow) == 0
