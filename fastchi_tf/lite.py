"""Running a .tflite render network with LiteRT alone: no TensorFlow import.

This is the light path: `tools/stylize.py` with a .tflite model needs only ai-edge-litert,
NumPy and Pillow (requirements-lite.txt), and starts in a second instead of TensorFlow's
several.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert.interpreter import Interpreter  # tf.lite.Interpreter's successor

from fastchi_tf import cli


class TFLiteRunner:
  """Runs a .tflite render network on one uint8 [h, w, 3] image of any size."""

  def __init__(self, path_or_bytes: str | bytes) -> None:
    kwargs = ({"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes)
              else {"model_path": path_or_bytes})
    with cli.quiet_stderr():  # LiteRT's C++ "Created ... XNNPACK delegate" line
      self.interpreter = Interpreter(**kwargs)
    self._shape = None

  def __call__(self, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.uint8)[None]
    inp = self.interpreter.get_input_details()[0]
    if self._shape != image.shape:
      self.interpreter.resize_tensor_input(inp["index"], image.shape, strict=False)
      with cli.quiet_stderr():  # the delegate announces itself here too
        self.interpreter.allocate_tensors()
      self._shape = image.shape
      inp = self.interpreter.get_input_details()[0]
    self.interpreter.set_tensor(inp["index"], image)
    self.interpreter.invoke()
    return self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"])[0]
