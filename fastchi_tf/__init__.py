"""FastChi-TF: fast neural style transfer in TensorFlow 2 / Keras 3.

The package imports nothing heavy itself: `fastchi_tf.cli` must be able to quiet TensorFlow's
logging before TensorFlow is first imported, and light paths should not pay for it.

`fastchi_tf.load_model(path)` loads a .keras file of ours: it imports (and so registers with
Keras) the package's layers, which `keras.saving.load_model` alone cannot find.
"""

import importlib

__all__ = ["build_loss_net", "build_render_net", "load_model", "losses"]

_LAZY = {"build_loss_net": ("fastchi_tf.loss_net", "build_loss_net"),
         "build_render_net": ("fastchi_tf.render_net", "build_render_net"),
         "load_model": ("fastchi_tf.layers", "load_model"),
         "losses": ("fastchi_tf.losses", None)}


def __getattr__(name):
  if name not in _LAZY:
    raise AttributeError(f"module 'fastchi_tf' has no attribute {name!r}")
  module_name, attr = _LAZY[name]
  module = importlib.import_module(module_name)
  return getattr(module, attr) if attr else module
