import numpy as np
import pytest

from experiments.lib import fold_norms
from fastchi_tf import build_render_net
from fastchi_tf import layers

NAMES = ("a", "b")


def _pair(rng):
  kwargs = dict(variant="inception", width=8, styles=NAMES, residual_blocks=1,
                output_activation="tanh")
  normalized = build_render_net(**kwargs)
  for layer in normalized.layers:  # styles that differ, as trained ones do
    if isinstance(layer, layers.InstanceNorm):
      gamma, beta = layer.get_weights()
      layer.set_weights([1 + 0.3 * rng.normal(size=gamma.shape), 0.3 * rng.normal(size=beta.shape)])
  return normalized, build_render_net(**kwargs, trunk_norm="affine")


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_folding_on_one_photo_renders_that_photo_as_the_normalized_network_does(rng):
  normalized, affine = _pair(rng)
  photo = rng.uniform(0, 255, (1, 32, 28, 3)).astype(np.float32)
  folded = []
  fold_norms.fold(normalized, affine, photo, progress=folded.append)
  assert folded == ["r1a_norm", "r1b_norm", "u1_norm", "u2_norm"]  # in the network's order
  for k in range(2):  # each style's statistics are its own
    style = np.eye(2, dtype=np.float32)[k:k + 1]
    np.testing.assert_allclose(affine([photo, style]), normalized([photo, style]), atol=0.05)
  # Another photo's statistics are not those fixed in: the affine network no longer follows
  # it exactly. (A photo's brightness and contrast alone would not show it: the encoder's
  # instance norms take them out.)
  other = np.zeros_like(photo)
  other[:, :16] = rng.uniform(0, 255, (1, 16, 28, 3))
  style = np.eye(2, dtype=np.float32)[:1]
  assert np.abs(affine([other, style]) - normalized([other, style])).max() > 1.0


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_folding_needs_the_same_styles_and_an_affine_trunk(rng):
  normalized, _ = _pair(rng)
  photo = rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
  with pytest.raises(ValueError, match="no StyleAffine layer"):
    fold_norms.fold(normalized, build_render_net("inception", width=8, styles=NAMES,
                                                 residual_blocks=1), photo)
  with pytest.raises(ValueError, match="styles differ"):
    fold_norms.fold(normalized, build_render_net("inception", width=8, styles=("a", "c"),
                                                 residual_blocks=1, trunk_norm="affine"), photo)
