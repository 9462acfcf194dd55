"""Test set-up: two logical CPU devices, so multi-device code runs on a machine without GPUs.

This must happen before TensorFlow initializes its devices, hence at conftest import.
"""

import atexit
import os
import shutil
import signal
import tempfile

from fastchi_tf import cli  # noqa: E402

# The Ctrl-C tests need Ctrl-C: a suite started in the background by a shell without job
# control (`cmd &`, nohup) inherits SIGINT ignored, and so would every tool it starts.
signal.signal(signal.SIGINT, signal.default_int_handler)

# The user's style collection (fastchi add-style) is an empty folder of the session's own, in
# this process and the tools it starts: a developer's real collection must not change what
# --list_styles shows or which network a style runs on.
_COLLECTION = tempfile.mkdtemp(prefix="fastchi-test-collection-")
os.environ["FASTCHI_COLLECTION_DIR"] = _COLLECTION
atexit.register(shutil.rmtree, _COLLECTION, ignore_errors=True)

cli.import_tensorflow_quietly()  # the tools' quiet start: no CUDA-stub or cuInit lines

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from fastchi_tf import samples  # noqa: E402

NUM_CPU_DEVICES = 2

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(NUM_CPU_DEVICES)])

@pytest.fixture(scope="session")
def mirrored():
  """One MirroredStrategy over the two logical CPUs for the whole test process: a second
  strategy object would number its collective ops from the same keys, and a later program's
  all-reduce can then meet an earlier one's cached shapes ("Shape mismatch in the collective
  instance")."""
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def rng():
  return np.random.default_rng(0)

@pytest.fixture(scope="session")
def hed_vgg16():
  """The offline pretrained loss network, built once per test session."""
  from fastchi_tf import build_loss_net
  return build_loss_net("vgg16", weights="hed")

def write_small_photo(name, path, size=64):
  """Writes scikit-image's photo `name`, shrunk so its longer side is `size`, to `path`."""
  from PIL import Image
  Image.fromarray(samples.read_photo(name, size)).save(path)
  return path

@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
  """A folder of small real photos, some in a subfolder, as training data."""
  folder = tmp_path_factory.mktemp("photos")
  (folder / "more").mkdir()
  for i, name in enumerate(samples.TEST_PHOTOS):
    target = folder / ("more" if i % 2 else "") / f"{i}_{name.split('.')[0]}.jpg"
    write_small_photo(name, str(target))
  return str(folder)

@pytest.fixture(scope="session")
def style_path(tmp_path_factory):
  return write_small_photo("ihc.png", str(tmp_path_factory.mktemp("style") / "ihc.png"))


# The longest test files, longest first (CPU seconds measured file by file, issue 34.9). make
# test hands out whole files (--dist loadfile) in collection order (--no-loadscope-reorder:
# xdist would otherwise start with the files that have the most tests, and a two-minute file
# of one test, the demo, ran last while the other worker sat idle). Starting with the longest
# keeps the two workers busy to the end; the other files follow in their usual order.
LONGEST_FIRST = (
    "test_demo.py",  # ~100 CPU-s, one test
    "test_add_style.py",  # ~92 CPU-s
    "test_train_lib.py",  # ~92 CPU-s
    "test_export.py",
    "test_multi_style_export.py",
    "test_multi_style_training.py",
    "test_stylize.py",
    "test_train_tool_signals.py",
    "test_temporal.py",
    "test_train_tool.py",
    "test_stylize_video_tool.py",
    "test_bench_inference.py",
    "test_cli.py",
    "test_style_tools.py",
    "test_video.py",
    "test_lite.py",
    "test_stylize_tool.py",
)


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  # (a stable sort: each file's tests keep their order)
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
