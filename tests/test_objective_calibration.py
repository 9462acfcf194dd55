"""The objective calibration's pieces that need no data: starts, L-BFGS, the kept pictures,
the front and the comparison with the peer."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from experiments.shipped import objective_calibration as oc


def test_starts_are_the_photo_a_blur_of_it_or_grey_noise():
  photo = np.zeros((32, 96, 3), np.uint8)
  photo[:, 48:] = 255
  np.testing.assert_array_equal(oc.start_image(photo, "photo"), photo)
  blurred = oc.start_image(photo, "blur")
  assert 0 < blurred[16, 48, 0] < 255 and blurred[16, 0, 0] < 2
  noise = oc.start_image(photo, "noise")
  assert abs(noise.mean() - 128) < 5 and 30 < noise.std() < 50
  with pytest.raises(ValueError, match="unknown start"):
    oc.start_image(photo, "zeros")


def test_colour_start_takes_the_paintings_colour_mean_and_covariance():
  rng = np.random.default_rng(0)
  photo = rng.integers(60, 120, (24, 24, 3)).astype(np.uint8)
  # A painting whose colours are correlated across channels and brighter.
  base = rng.normal(0.0, 20.0, (30, 30, 1))
  painting = np.clip(150 + np.concatenate([base, 0.5 * base, -base], -1)
                     + rng.normal(0.0, 5.0, (30, 30, 3)), 0, 255).astype(np.uint8)
  out = oc.start_image(photo, "colour", painting=painting)
  assert out.shape == photo.shape
  y = painting.reshape(-1, 3).astype(np.float64)
  x = out.reshape(-1, 3)
  np.testing.assert_allclose(x.mean(0), y.mean(0), atol=1.0)
  np.testing.assert_allclose(np.cov(x.T), np.cov(y.T), atol=3.0)
  # The photo's layout is kept: the transfer is one affine map of every pixel.
  design = np.concatenate([photo.reshape(-1, 3), np.ones((photo[..., 0].size, 1))], 1)
  fit = np.linalg.lstsq(design, x, rcond=None)[0]
  assert np.abs(design @ fit - x).max() < 1.0
  assert np.allclose(oc.start_image(out.astype(np.uint8), "colour", painting=painting),
                     out, atol=1.0)


class _Quadratic:
  """A stand-in loss network: |image - target|^2, counting the objectives it makes."""

  def __init__(self, target):
    self.target, self.made = target.astype(np.float32)[None], 0

  def objective(self, photo, painting, objective):
    del photo, painting, objective
    self.made += 1

    def value_and_grad(image):
      diff = tf.constant(image) - self.target
      return tf.reduce_sum(diff ** 2), 2 * diff
    return value_and_grad


def test_lbfgs_reaches_the_optimum_within_bounds_and_the_result_is_kept(tmp_path):
  target = np.full((8, 8, 3), 300.0)  # past the bound: L-BFGS-B stops at 255
  target[:4] = 40.0
  network = _Quadratic(target)
  photo = np.full((8, 8, 3), 128, np.uint8)
  cfg = oc.Config(size=8, iterations=20)
  objective = oc.Objective()
  out = oc._optimized(network, cfg, str(tmp_path), "q", objective, "p", "x.jpg", photo)
  np.testing.assert_array_equal(out, np.clip(target, 0, 255).astype(np.uint8))
  again = oc._optimized(network, cfg, str(tmp_path), "q", objective, "p", "x.jpg", photo)
  np.testing.assert_array_equal(again, out)
  assert network.made == 1  # the second came from the kept file
  other = dataclasses.replace(objective, style_weight=1.0)  # other settings: made anew
  oc._optimized(network, cfg, str(tmp_path), "q", other, "p", "x.jpg", photo)
  assert network.made == 2


def test_the_front_and_the_paintings_ahead_of_the_peer():
  rows = [dict(objective=n, painting=p, photo="x", style=s, structure=c)
          for n, p, s, c in [("a", "p1", 0.3, 0.8), ("a", "p2", 0.3, 0.8),
                             ("b", "p1", 0.4, 0.9), ("b", "p2", 0.4, 0.9),
                             ("c", "p1", 0.6, 0.5), ("c", "p2", 0.6, 0.5)]]
  summary = dict(rows=rows, config=dict(objectives=[["a", {}], ["b", {}], ["c", {}]]),
                 peer=[dict(painting="p1", photo="x", style=0.35, structure=0.7),
                       dict(painting="p2", photo="x", style=0.45, structure=0.7)])
  overall, _ = oc.summarize(summary)
  assert set(oc.front(overall)) == {"a", "b"}  # c is behind b on both
  assert oc.ahead_of_peer(summary) == {"a": 2, "b": 1, "c": 0}


def test_a_run_of_some_objectives_keeps_the_others_earlier_results(tmp_path):
  import json
  grid = (("a", oc.Objective()), ("b", oc.Objective(style_weight=3.0)),
          ("c", oc.Objective(start="blur")))
  cfg = oc.Config(size=8, iterations=5, objectives=grid, only="c")
  earlier = {"photos": ["x.jpg"], "config": {"size": 8, "iterations": 5},
             "objectives": {"a": dataclasses.asdict(grid[0][1]),
                            # redefined in the grid since: its results no longer hold
                            "b": dataclasses.asdict(oc.Objective(style_weight=9.0)),
                            "c": dataclasses.asdict(grid[2][1])},
             "rows": [dict(objective=n, painting="p", photo="x.jpg", style=0.5,
                           structure=0.5) for n in "abc"]}
  (tmp_path / "results.json").write_text(json.dumps(earlier))  # lists, as JSON keeps them
  rows, kept = oc.kept_results(str(tmp_path), cfg, ["x.jpg"], {"c": grid[2][1]})
  assert list(kept) == ["a"] and [r["objective"] for r in rows] == ["a"]
  # Other photos or settings: nothing is kept.
  assert oc.kept_results(str(tmp_path), cfg, ["y.jpg"], {}) == ([], {})
  assert oc.kept_results(str(tmp_path), dataclasses.replace(cfg, iterations=9), ["x.jpg"],
                         {}) == ([], {})
  assert oc.kept_results(str(tmp_path / "none"), cfg, ["x.jpg"], {}) == ([], {})


def test_channels_start_takes_each_channels_mean_and_spread_only():
  rng = np.random.default_rng(1)
  photo = rng.integers(60, 120, (20, 20, 3)).astype(np.uint8)
  base = rng.normal(0.0, 20.0, (25, 25, 1))
  painting = np.clip(140 + np.concatenate([base, 0.5 * base, -base], -1), 0, 255)
  out = oc.start_image(photo, "channels", painting=painting.astype(np.uint8))
  y = painting.astype(np.uint8).reshape(-1, 3).astype(np.float64)
  x = out.reshape(-1, 3)
  np.testing.assert_allclose(x.mean(0), y.mean(0), atol=0.5)
  np.testing.assert_allclose(x.std(0), y.std(0), rtol=0.02)
  # Each channel is its own affine map: the photo's weak cross-channel correlations stay,
  # where the painting's strong ones (here -1 between red and blue) do not come.
  assert abs(np.corrcoef(x.T)[0, 2]) < 0.3 < abs(np.corrcoef(y.T)[0, 2])
  for c in range(3):
    assert abs(np.corrcoef(x[:, c], photo.reshape(-1, 3)[:, c])[0, 1]) > 0.999
