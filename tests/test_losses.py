import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import losses


def test_gram_of_a_known_map():
  # One image, 1x2 pixels, 2 channels: rows are pixels [1, 2] and [3, 4].
  features = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype="float32")
  expected = np.array([[1 + 9, 2 + 12], [2 + 12, 4 + 16]]) / (1 * 2 * 2)
  np.testing.assert_allclose(losses.gram_matrix(features)[0], expected)


def test_tv_of_a_constant_image_is_zero_and_of_a_step_is_known():
  constant = tf.fill([2, 5, 6, 3], 7.0)
  np.testing.assert_array_equal(losses.total_variation_loss(constant, "sum"), [0.0, 0.0])
  step = np.zeros([1, 2, 2, 1], "float32")
  step[0, :, 1, 0] = 1.0  # right column is 1: two horizontal differences of 1
  assert losses.total_variation_loss(step, "sum").numpy()[0] == pytest.approx(2.0)
  assert losses.total_variation_loss(step, "mean").numpy()[0] == pytest.approx(0.0 + 1.0)


def test_content_loss_of_identical_inputs_is_zero(rng):
  x = rng.normal(size=(3, 4, 5, 6)).astype("float32")
  np.testing.assert_array_equal(losses.content_loss(x, x), np.zeros(3))


def test_mean_and_sum_differ_by_the_element_count(rng):
  a = rng.normal(size=(2, 4, 5, 6)).astype("float32")
  b = rng.normal(size=(2, 4, 5, 6)).astype("float32")
  np.testing.assert_allclose(losses.content_loss(a, b, "sum"),
                             losses.content_loss(a, b, "mean") * 4 * 5 * 6, rtol=1e-5)
  target = {"l": losses.gram_matrix(b)[0]}
  total_sum, _ = losses.style_loss({"l": a}, target, "sum")
  total_mean, _ = losses.style_loss({"l": a}, target, "mean")
  np.testing.assert_allclose(total_sum, total_mean * 6 * 6, rtol=1e-5)


def test_style_loss_is_zero_against_its_own_gram_and_sums_layers(rng):
  a = rng.normal(size=(1, 4, 4, 3)).astype("float32")
  b = rng.normal(size=(1, 2, 2, 5)).astype("float32")
  feats = {"x": a, "y": b}
  grams = {k: losses.gram_matrix(v)[0] for k, v in feats.items()}
  total, terms = losses.style_loss(feats, grams)
  np.testing.assert_allclose(total, [0.0], atol=1e-6)
  total, terms = losses.style_loss(feats, {"x": grams["x"] + 1.0, "y": grams["y"]})
  np.testing.assert_allclose(terms["x"], [1.0], rtol=1e-5)
  np.testing.assert_allclose(total, terms["x"] + terms["y"])


def test_perceptual_loss_weights_its_terms(rng):
  gen = {"c": rng.normal(size=(2, 3, 3, 4)).astype("float32"),
         "s": rng.normal(size=(2, 3, 3, 4)).astype("float32")}
  content = {"c": rng.normal(size=(2, 3, 3, 4)).astype("float32")}
  grams = {"s": np.eye(4, dtype="float32")}
  images = rng.uniform(0, 255, size=(2, 8, 8, 3)).astype("float32")
  total, terms = losses.perceptual_loss(gen, content, grams, images, ["c"], content_weight=2.0,
                                        style_weight=3.0, tv_weight=0.5)
  np.testing.assert_allclose(
      total, 2.0 * terms["content"] + 3.0 * terms["style"] + 0.5 * terms["tv"], rtol=1e-6)
  assert set(terms) == {"content", "style", "tv", "style/s"}
  assert total.shape == (2,)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_target_layer_norm_makes_each_layer_a_relative_error(reduction, rng):
  # Two layers whose features differ in scale by 100: raw terms differ by 100**4, normalized
  # ones not at all, since the same relative error is made at both.
  small = rng.uniform(0, 1, size=(2, 4, 4, 3)).astype("float32")
  feats = {"small": small, "large": 100 * small}
  grams = {k: 1.1 * losses.gram_matrix(v)[0] for k, v in feats.items()}
  _, raw = losses.style_loss(feats, grams, reduction)
  total, terms = losses.style_loss(feats, grams, reduction, layer_norm="target")
  np.testing.assert_allclose(raw["large"], raw["small"] * 1e8, rtol=1e-3)
  np.testing.assert_allclose(terms["large"], terms["small"], rtol=1e-3)
  target = grams["small"].numpy()
  expected = [np.sum((g - target) ** 2) / np.sum(target ** 2)
              for g in losses.gram_matrix(small).numpy()]
  np.testing.assert_allclose(terms["small"], expected, rtol=1e-4)
  np.testing.assert_allclose(total, terms["small"] + terms["large"], rtol=1e-6)
  # A batch of targets (a multi-style network's) normalizes each example by its own.
  batch = {k: tf.stack([g, 2 * g]) for k, g in grams.items()}
  _, per = losses.style_loss(feats, batch, reduction, layer_norm="target")
  g = losses.gram_matrix(small).numpy()
  np.testing.assert_allclose(
      per["small"], [np.sum((g[i] - k * target) ** 2) / np.sum((k * target) ** 2)
                     for i, k in ((0, 1), (1, 2))], rtol=1e-4)
  with pytest.raises(ValueError, match="layer_norm 'layer'"):
    losses.style_loss(feats, grams, reduction, layer_norm="layer")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_positions_layer_norm_is_magentas_gram_divided_by_positions(reduction, rng):
  # Magenta's style term (Ghiasi et al.'s weights assume it): F^T F / (h * w), squared
  # differences reduced over the c x c entries.
  feats = {"a": rng.uniform(0, 2, size=(2, 3, 5, 4)).astype("float32"),
           "b": rng.uniform(0, 2, size=(2, 2, 2, 8)).astype("float32")}
  targets = {k: 0.9 * losses.gram_matrix(v)[0] for k, v in feats.items()}
  _, terms = losses.style_loss(feats, targets, reduction, layer_norm="positions")
  reduce = np.mean if reduction == "mean" else np.sum
  for k, f in feats.items():
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c).astype(np.float64)
    grams = np.einsum("bpc,bpd->bcd", flat, flat) / (h * w)
    wanted = 0.9 * grams[0]
    expected = [reduce((g - wanted) ** 2) for g in grams]
    np.testing.assert_allclose(terms[k], expected, rtol=1e-4)
  with pytest.raises(ValueError, match="'positions' rescales Gram"):
    losses.sliced_wasserstein_loss(feats, {}, reduction, layer_norm="positions")


def test_unknown_reduction_is_rejected():
  with pytest.raises(ValueError, match="reduction 'median'"):
    losses.content_loss(np.zeros((1, 1)), np.zeros((1, 1)), "median")


def test_gram_inside_dataset_map_matches_eager(rng):
  x = rng.normal(size=(1, 4, 5, 3)).astype("float32")
  mapped = next(iter(tf.data.Dataset.from_tensors(x).map(losses.gram_matrix)))
  np.testing.assert_allclose(mapped, losses.gram_matrix(x), rtol=1e-6)


def _swd(features, target_features, **kwargs):
  target = losses.swd_target(tf.constant(target_features[None], tf.float32))
  total, _ = losses.sliced_wasserstein_loss({"l": features}, {"l": target}, **kwargs)
  return total.numpy()


def test_swd_of_constant_maps_is_their_squared_distance():
  # One channel: the only direction is +-1, so every sorted projection differs by 2 - 5.
  generated = np.full([1, 4, 4, 1], 2.0, "float32")
  np.testing.assert_allclose(_swd(generated, np.full([8, 8, 1], 5.0, "float32")), [9.0],
                             rtol=1e-6)


def test_swd_ignores_where_features_are_and_sees_how_they_are_spread(rng):
  target = rng.normal(size=(64, 64, 8)).astype("float32")
  same = target[None]
  shuffled = rng.permutation(target.reshape(-1, 8)).reshape(1, 64, 64, 8)
  # Same values anywhere: the same loss, near 0 (only the 1024 quantile levels differ).
  np.testing.assert_allclose(_swd(shuffled, target), _swd(same, target), rtol=1e-5)
  assert _swd(same, target, layer_norm="target")[0] < 1e-3
  # Same mean and covariance, another distribution: a Gram term cannot tell them apart.
  signs = np.sign(rng.normal(size=(1, 64, 64, 8))).astype("float32")
  assert _swd(signs, target, layer_norm="target")[0] > 50 * _swd(same, target,
                                                                 layer_norm="target")[0]


def test_swd_targets_stack_per_example_like_grams(rng):
  a, b = (rng.normal(size=(1, 16, 16, 4)).astype("float32") for _ in range(2))
  targets = [losses.swd_target(tf.constant(x)) for x in (a, b)]
  generated = rng.normal(size=(2, 8, 8, 4)).astype("float32")
  stacked, _ = losses.sliced_wasserstein_loss({"l": generated}, {"l": tf.stack(targets)})
  for k in range(2):
    alone, _ = losses.sliced_wasserstein_loss({"l": generated[k:k + 1]}, {"l": targets[k]})
    np.testing.assert_allclose(stacked[k], alone[0], rtol=1e-6)


def test_perceptual_loss_takes_swd_targets_and_refuses_unknown_statistics(rng):
  features = {"l": rng.normal(size=(1, 8, 8, 4)).astype("float32")}
  targets = {"l": losses.swd_target(tf.constant(features["l"]))}
  images = tf.zeros([1, 8, 8, 3])
  _, terms = losses.perceptual_loss(features, features, targets, images, ["l"],
                                    style_statistic="swd")
  assert terms["style"].numpy()[0] < 1e-2
  with pytest.raises(ValueError, match="unknown style statistic 'moments'"):
    losses.perceptual_loss(features, features, targets, images, ["l"],
                           style_statistic="moments")
