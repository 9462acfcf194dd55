"""Fixtures that several test modules share: a small model file and a photo.

A module uses them by importing them (`from fixtures_models import keras_model_path`):
pytest finds fixtures among a test module's names.
"""

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import build_render_net


@pytest.fixture(scope="session")
def keras_model_path(tmp_path_factory):
  """A single-style network, untrained and small (inception, width 8, one residual block: each
  new image size traces it again, and five blocks trace ~2x slower), as model.keras. One per
  test process: read it, never write beside it."""
  path = str(tmp_path_factory.mktemp("model") / "model.keras")
  build_render_net("inception", width=8, residual_blocks=1).save(path)
  return path


@pytest.fixture
def photo(tmp_path, rng):
  """A random 51x37 PNG: odd sides, which the stylize tests check are kept."""
  path = str(tmp_path / "photo.png")
  Image.fromarray(rng.integers(0, 256, (37, 51, 3), np.uint8)).save(path)
  return path
