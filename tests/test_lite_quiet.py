"""LiteRT's delegate line is quieted once, when a runner is made: later calls (new sizes,
tiling's signatures) do not redirect the process's stderr, which in a server would hide
other threads' lines; and nothing is printed either way (the CLI as before). The shipped
.tflite model, no TensorFlow: seconds."""

import subprocess
import sys

import numpy as np

from fastchi_tf import shipped
from fastchi_tf.light import io_utils
from fastchi_tf.light import lite


def test_calls_after_creation_do_not_redirect_stderr(monkeypatch):
  runner = lite.TFLiteRunner(shipped.path("tflite"), num_threads=1)
  style = np.full(len(runner.style_names), 1 / len(runner.style_names), np.float32)

  def redirected():
    raise AssertionError("quiet_stderr entered after the runner was made")
  monkeypatch.setattr(io_utils, "quiet_stderr", redirected)
  for h, w in [(40, 52), (64, 64), (40, 52)]:
    assert runner(np.zeros((h, w, 3), np.uint8), style).shape == (h, w, 3)
  found = runner.statistics(np.zeros((48, 48, 3), np.uint8), style)
  out = runner.with_statistics(np.zeros((32, 36, 3), np.uint8), found, style)
  assert out.shape == (32, 36, 3)


_PROGRAM = """
import numpy as np
from fastchi_tf import shipped
from fastchi_tf.light import lite
runner = lite.TFLiteRunner(shipped.path("tflite"), num_threads=1)
style = np.full(len(runner.style_names), 1 / len(runner.style_names), np.float32)
for h, w in [(40, 52), (64, 64)]:
  runner(np.zeros((h, w, 3), np.uint8), style)
runner.with_statistics(np.zeros((32, 32, 3), np.uint8),
                       runner.statistics(np.zeros((48, 48, 3), np.uint8), style), style)
del runner  # (a runner freed while the process goes on, as the web page swaps models)
import gc
gc.collect()
again = lite.TFLiteRunner(shipped.path("tflite"), num_threads=1)
again(np.zeros((40, 52, 3), np.uint8), style)
print("done")
"""


def test_nothing_reaches_stderr_as_before():
  done = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True,
                        timeout=120)
  assert done.returncode == 0 and done.stdout == "done\n", done.stderr
  assert done.stderr == ""
