import pytest
import tensorflow as tf

from fastchi_tf import build_render_net
from fastchi_tf.flops import count_flops


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_flops_match_the_known_cost_of_the_original_network():
  # 20.16 GFLOP per 256x256 frame for Johnson's network (2 x MACs of its convolutions).
  flops = count_flops(build_render_net("original", width=32), 256, 256)
  assert flops == pytest.approx(20.16e9, rel=0.005)
  assert count_flops(build_render_net("original", width=32), 512, 512) == pytest.approx(4 * flops)


def test_transposed_and_dense_layers_count_their_multiply_adds():
  image = tf.keras.Input((8, 8, 3))
  up = tf.keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(image)
  dense = tf.keras.layers.Dense(5)(tf.keras.layers.Flatten()(up))
  model = tf.keras.Model(image, dense)
  transposed = 2 * (8 * 8 * 3) * 3 * 3 * 4  # one MAC per input position and tap
  matmul = 2 * (16 * 16 * 4) * 5
  assert count_flops(model, 8, 8) == transposed + matmul


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_multi_style_model_costs_what_its_single_style_twin_does():
  # count_flops failed on a multi-style model: it traced the image input alone.
  one = count_flops(build_render_net("inception", width=8, residual_blocks=1), 64, 64)
  assert count_flops(build_render_net("inception", width=8, styles=["a", "b", "c"],
                                      residual_blocks=1), 64, 64) == pytest.approx(one, rel=0.01)
