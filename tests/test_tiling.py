import keras
import concurrent.futures

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import build_render_net
from fastchi_tf import tiling


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_tiled_output_stays_close_to_the_whole_image(rng):
  model = build_render_net("original", width=8, residual_blocks=1)
  render = lambda x: model(x, training=False)
  image = np.asarray(Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).resize(
      (1024, 1024), Image.BILINEAR))
  whole = np.clip(np.round(render(image[None].astype(np.float32))[0].numpy()), 0, 255)
  tiled = tiling.stylize_tiled(model, image, tile=256)
  assert tiled.shape == image.shape
  assert np.abs(tiled - whole).mean() <= 2.0  # 2/255 of the range
  # Without whole-image statistics tiles disagree: the bound is not trivially met.
  naive = np.concatenate([np.concatenate([
      np.clip(np.round(render(image[None, y:y + 256, x:x + 256].astype(np.float32))[0]), 0, 255)
      for x in range(0, 1024, 256)], axis=1) for y in range(0, 1024, 256)], axis=0)
  assert np.abs(naive - whole).mean() > np.abs(tiled - whole).mean()


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_threads_tiling_with_one_model_get_each_image_its_own_statistics(rng):
  model = build_render_net("inception", width=8, residual_blocks=1)
  images = [rng.integers(0, 256, (150, 170, 3), np.uint8),
            np.full((150, 170, 3), 40, np.uint8) + rng.integers(0, 30, (150, 170, 3), np.uint8)]
  alone = [tiling.stylize_tiled(model, image, tile=64) for image in images]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:  # two threads per image at once
    together = list(pool.map(lambda i: tiling.stylize_tiled(model, images[i % 2], tile=64),
                             range(4)))
  for i, out in enumerate(together):
    np.testing.assert_array_equal(out, alone[i % 2])


def test_statistics_copy_shares_weights_and_with_own_statistics_matches_the_model(rng):
  model = build_render_net("original", width=8, residual_blocks=1)
  image = rng.integers(0, 256, (48, 40, 3), np.uint8)
  stats = tiling.image_statistics(model, image, size=64)
  assert len(stats) == 7  # 3 + 2 residual + 2 upsampling normalizations
  fixed = tiling.with_statistics(model, stats)
  x = image[None].astype(np.float32)
  np.testing.assert_allclose(fixed(x), model(x, training=False), atol=0.05)
  assert fixed.get_layer("c1_conv") is model.get_layer("c1_conv")  # shared, not copied
  assert fixed.get_layer("c1_norm") is not model.get_layer("c1_norm")
  assert model.get_layer("c1_norm").statistics is None  # the model itself is untouched


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_an_affine_trunk_fixes_only_the_encoders_statistics(rng):
  model = build_render_net("original", width=8, trunk_norm="affine",
                           residual_blocks=1)
  image = rng.integers(0, 256, (48, 40, 3), np.uint8)
  stats = tiling.image_statistics(model, image, size=64)
  assert sorted(stats) == ["c1_norm", "d1_norm", "d2_norm"]
  fixed = tiling.with_statistics(model, stats)
  x = image[None].astype(np.float32)
  np.testing.assert_allclose(fixed(x), model(x, training=False), atol=0.05)
  tiled = tiling.stylize_tiled(model, image, tile=32)
  whole = np.clip(np.round(model(x, training=False)[0].numpy()), 0, 255)
  assert np.abs(tiled - whole).mean() <= 2.0


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_statistics_stay_accurate_over_a_million_pixels(rng):
  # The largest statistics image (STATS_SIZE square) of a bright photo: a one-pass float32
  # reduction (keras.ops.moments) was 8e-5 off in variance here, the network's moments 2e-7.
  model = build_render_net("original", width=8, residual_blocks=1)
  size = tiling.STATS_SIZE
  image = (200 + rng.integers(0, 56, (1, size, size, 3))).astype(np.float32)
  x = keras.Model(model.input, model.get_layer("c1_norm").input)(image).numpy()
  x = x.astype(np.float64)
  mean, variance = tiling.statistics_model(model)(image)["c1_norm"]
  np.testing.assert_allclose(np.reshape(mean, -1), x.mean((0, 1, 2)), rtol=1e-5)
  np.testing.assert_allclose(np.reshape(variance, -1), x.var((0, 1, 2)), rtol=1e-5)
