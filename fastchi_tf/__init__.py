"""FastChi-TF: fast neural style transfer in TensorFlow 2 / Keras 3."""

from fastchi_tf import losses
from fastchi_tf.loss_net import build_loss_net
from fastchi_tf.render_net import build_render_net

__all__ = ["build_loss_net", "build_render_net", "losses"]
