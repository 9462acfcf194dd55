"""fastchi_tf.light imports whole with TensorFlow blocked: the light install's path."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Raises on any import of TensorFlow or Keras, then imports every module of the subpackage.
SCRIPT = """
import importlib, pkgutil, sys

class Blocker:
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
      raise ImportError(f"blocked: {name}")
    return None

sys.meta_path.insert(0, Blocker())
import fastchi_tf.light
names = sorted(m.name for m in pkgutil.walk_packages(fastchi_tf.light.__path__,
                                                      "fastchi_tf.light."))
for name in names:
  importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
assert not loaded, loaded
print(" ".join(names))
"""


def test_the_light_subpackage_imports_with_tensorflow_blocked():
  result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  imported = set(result.stdout.split())
  assert {"fastchi_tf.light.lite", "fastchi_tf.light.image_io", "fastchi_tf.light.styles",
          "fastchi_tf.light.export_names", "fastchi_tf.light.model_files",
          "fastchi_tf.light.locks", "fastchi_tf.light.io_utils"} <= imported
