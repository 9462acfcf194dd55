"""Multi-style networks (conditional instance normalization): layers and style lists
(training: test_multi_style_training.py; exports and inference: test_multi_style_export.py)."""

import os

import keras
import numpy as np
import pytest

from fastchi_tf import config as config_lib
from fastchi_tf import data
from fastchi_tf import layers
from fastchi_tf import render_net
from fastchi_tf import train_lib
from conftest import write_small_photo
from run_helpers import randomized

NAMES = ("a", "b", "c")


def one_hot(k, n=3, batch=1):
  return np.tile(np.eye(n, dtype=np.float32)[k:k + 1], [batch, 1])


@pytest.mark.parametrize("training", [False, True])  # the fused and the moments paths
def test_conditional_norm_is_the_chosen_styles_norm_and_mixes_its_parameters(training, rng):
  x = rng.normal(size=(2, 6, 5, 4)).astype(np.float32)
  cin = layers.InstanceNorm(num_styles=3)
  cin([x, one_hot(0, batch=2)])
  gamma, beta = rng.uniform(0.5, 2, (3, 4)), rng.normal(size=(3, 4))
  cin.set_weights([gamma.astype(np.float32), beta.astype(np.float32)])
  plain = layers.InstanceNorm()
  plain(x)
  for k in range(3):
    plain.set_weights([gamma[k].astype(np.float32), beta[k].astype(np.float32)])
    np.testing.assert_allclose(cin([x, one_hot(k, batch=2)], training=training),
                               plain(x, training=training), atol=1e-5)
  # Per image: image 0 in style 1, image 1 a 30/70 mix of styles 0 and 2.
  weights = np.array([[0, 1, 0], [0.3, 0, 0.7]], np.float32)
  plain.set_weights([(weights[1] @ gamma).astype(np.float32),
                     (weights[1] @ beta).astype(np.float32)])
  out = cin([x, weights], training=training).numpy()
  np.testing.assert_allclose(out[1:], plain(x[1:], training=training), atol=1e-5)
  plain.set_weights([gamma[1].astype(np.float32), beta[1].astype(np.float32)])
  np.testing.assert_allclose(out[:1], plain(x[:1], training=training), atol=1e-5)


@pytest.mark.parametrize("variant", render_net.VARIANTS)
@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_multi_style_network_loads_with_safe_mode_and_keeps_any_size(variant, tmp_path, rng):
  # (one residual block: tracing five costs ~2x, and a block adds nothing new here)
  model = randomized(render_net.build_render_net(variant, width=8, styles=NAMES,
                                                 residual_blocks=1))
  assert [tuple(i.shape) for i in model.inputs] == [(None, None, None, 3), (None, 3)]
  path = str(tmp_path / "m.keras")
  model.save(path)
  loaded = keras.saving.load_model(path, safe_mode=True)
  assert render_net.style_names(loaded) == NAMES
  x = rng.uniform(0, 255, (1, 37, 29, 3)).astype(np.float32)
  out = loaded([x, one_hot(1)]).numpy()
  assert out.shape == x.shape
  np.testing.assert_allclose(out, model([x, one_hot(1)]).numpy(), atol=1e-3)
  assert np.abs(out - model([x, one_hot(2)]).numpy()).mean() > 1.0  # styles differ
  # One style is today's network: no style input, [C] scales.
  single = render_net.build_render_net(variant, width=8, residual_blocks=1)
  assert len(single.inputs) == 1 and render_net.style_names(single) == ()
  assert single.get_layer("c1_norm").gamma.shape == (8,)
  # Shared convolutions: N styles add only 2 x (N - 1) x C parameters per norm layer.
  norms = sum(l.gamma.shape[-1] for l in single.layers if isinstance(l, layers.InstanceNorm))
  assert model.count_params() - single.count_params() == 2 * 2 * norms


def test_bad_style_lists_are_refused():
  with pytest.raises(ValueError, match="at least 2 styles"):
    render_net.build_render_net(styles=("a",))
  with pytest.raises(ValueError, match="distinct"):
    render_net.build_render_net(styles=("a", "a"))


@pytest.fixture(scope="module")
def style_folder(tmp_path_factory):
  folder = tmp_path_factory.mktemp("styles")
  for name, photo in zip(NAMES, ("ihc.png", "coffee.png", "rocket.jpg")):
    write_small_photo(photo, str(folder / f"{name}.png"))
  return str(folder)


def make_config(model_dir, photo_folder, style_image, **overrides):
  return config_lib.named("tiny", model_dir=str(model_dir),
                          data=dict(train_data=photo_folder, style_image=style_image),
                          **overrides)


@pytest.mark.slow
def test_an_unreadable_style_image_is_named_before_anything_is_written(tmp_path, photo_folder,
                                                                       style_folder):
  broken = tmp_path / "broken.jpg"
  broken.write_bytes(b"not an image")
  cfg = make_config(tmp_path / "run", photo_folder, f"{style_folder},{broken}")
  with pytest.raises(data.DataError, match="broken.jpg"):
    train_lib.train(cfg, verbose=False)
  assert not os.path.exists(cfg.model_dir)
