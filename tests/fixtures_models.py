"""Fixtures that several test modules share: a small model file and a photo.

A module uses them by importing them (`from fixtures_models import keras_model_path`):
pytest finds fixtures among a test module's names.
"""

import fcntl
import os
import shutil
import types

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import build_render_net


def made_once(tmp_path_factory, name, make):
  """The folder `name` that `make(folder)` fills, made once per test session: under make
  test's two workers (pytest-xdist), the first to ask makes it and the other waits for it and
  reads the same files. Each user only reads it."""
  base = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    base = base.parent  # the session's folder, over each worker's own
  folder = base / name
  with open(base / f"{name}.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # (released when the file closes)
    if not folder.exists():
      partial = base / f"{name}.partial"
      shutil.rmtree(partial, ignore_errors=True)
      partial.mkdir()
      make(partial)
      os.rename(partial, folder)
  return folder


@pytest.fixture(scope="session")
def small_exports(tmp_path_factory):
  """One small untrained network (inception, width 8, one residual block) as a SavedModel and
  a float32 .tflite file, each alone in its folder, made once for the session's test
  processes (a SavedModel export and a TFLite conversion cost ~5-10 s each)."""
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top

  def make(folder):
    model = build_render_net("inception", width=8, residual_blocks=1)
    (folder / "saved").mkdir()
    export.export_saved_model(model, str(folder / "saved" / "saved_model"))
    (folder / "lite").mkdir()
    (folder / "lite" / "model.tflite").write_bytes(export.tflite_bytes(model))
  folder = made_once(tmp_path_factory, "small_exports", make)
  return types.SimpleNamespace(saved_model=str(folder / "saved" / "saved_model"),
                               tflite=str(folder / "lite" / "model.tflite"))


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
