"""Test set-up: two logical CPU devices, so multi-device code runs on a machine without GPUs.

This must happen before TensorFlow initializes its devices, hence at conftest import.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

NUM_CPU_DEVICES = 2

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(NUM_CPU_DEVICES)])


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture(scope="session")
def hed_vgg16():
  """The offline pretrained loss network, built once per test session."""
  from fastchi_tf import build_loss_net
  return build_loss_net("vgg16", weights="hed")


SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
                  "rocket.jpg", "hubble_deep_field.jpg")


def skimage_path(name):
  import skimage
  return os.path.join(os.path.dirname(skimage.__file__), "data", name)


def write_small_photo(name, path, size=64):
  """Writes scikit-image's photo `name`, shrunk so its longer side is `size`, to `path`."""
  from PIL import Image
  image = Image.open(skimage_path(name)).convert("RGB")
  image.thumbnail((size, size))
  image.save(path)
  return path


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
  """A folder of small real photos, some in a subfolder, as training data."""
  folder = tmp_path_factory.mktemp("photos")
  (folder / "more").mkdir()
  for i, name in enumerate(SKIMAGE_PHOTOS):
    target = folder / ("more" if i % 2 else "") / f"{i}_{name.split('.')[0]}.jpg"
    write_small_photo(name, str(target))
  return str(folder)


@pytest.fixture(scope="session")
def style_path(tmp_path_factory):
  return write_small_photo("ihc.png", str(tmp_path_factory.mktemp("style") / "ihc.png"))
