"""Training multi-style networks: logs, resume, replicas and fine-tuning (apart from
test_multi_style.py so that the two test processes can share the work)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import config as config_lib
from fastchi_tf import data
from fastchi_tf import export
from fastchi_tf import layers
from fastchi_tf import render_net
from fastchi_tf import train_lib
from conftest import write_small_photo
from run_helpers import saved_run
from test_multi_style import NAMES
from test_multi_style import make_config
from test_multi_style import one_hot
from test_multi_style import style_folder  # noqa: F401  (a fixture)
from test_train_lib import assert_close_overall
from test_train_lib import checkpoint_tensors
from test_train_lib import scalars
from test_train_lib import zero_gradient_keys


@pytest.mark.slow
def test_training_records_the_styles_logs_each_and_resumes_bit_identically(
    tmp_path, photo_folder, style_folder):
  # With the temporal term on, so that its resume is checked too.
  settings = dict(summary_every=4, batch_size=4, deterministic=True,
                  temporal=dict(weight=100.0))
  cfg = make_config(tmp_path / "run", photo_folder, style_folder, steps=4, **settings)
  result = train_lib.train(cfg, verbose=False)
  saved = json.load(open(os.path.join(cfg.model_dir, "config.json")))
  assert saved["render"]["styles"] == list(NAMES)
  assert result.config.render.styles == NAMES
  values = scalars(cfg.model_dir)
  per_style = sorted(t for t in values if t.startswith("per_style/"))
  assert per_style == [f"per_style/{n}" for n in NAMES]
  assert all(values[t][4] > 0 for t in per_style)
  # The style loss is the mean over examples; each style's the mean over its examples.
  assert min(values[t][4] for t in per_style) <= result.last_losses["style"] * 1.5
  restored = export.restore_render_net(cfg.model_dir)
  assert render_net.style_names(restored) == NAMES
  # Stopped at step 2 and resumed, the same run ends with the same weights, bit for bit.
  part = make_config(tmp_path / "part", photo_folder, style_folder, steps=2, **settings)
  train_lib.train(part, verbose=False)
  part.steps = 4
  train_lib.train(part, verbose=False)
  a, b = checkpoint_tensors(cfg.model_dir), checkpoint_tensors(part.model_dir)
  # --deterministic is the run's: op determinism (process-wide) is off again after it.
  from tensorflow.python.framework import config as tf_config
  assert not tf_config.is_op_determinism_enabled()
  assert a.keys() == b.keys()
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.slow
def test_two_replicas_draw_and_train_what_one_device_does(tmp_path, photo_folder, style_folder,
                                                          mirrored):
  one = make_config(tmp_path / "one", photo_folder, style_folder, steps=2, batch_size=4,
                    temporal=dict(weight=1000.0))
  train_lib.train(one, tf.distribute.OneDeviceStrategy("/cpu:0"), verbose=False)
  two = make_config(tmp_path / "two", photo_folder, style_folder, steps=2, batch_size=4,
                    temporal=dict(weight=1000.0))
  assert mirrored.num_replicas_in_sync == 2
  train_lib.train(two, mirrored, verbose=False)
  # Includes Adam's moments, so the replicas' gradients were averaged, not summed: had they
  # been summed, m would double. (The single-style network takes the same step code with
  # no style input.)
  a, b = checkpoint_tensors(one.model_dir), checkpoint_tensors(two.model_dir)
  settings = dict(noise_keys=zero_gradient_keys(one.model_dir), steps=2,
                  learning_rate=one.learning_rate)
  assert_close_overall(a, b, **settings)
  doubled = {k: (2 * v if "/_variables/" in k else v) for k, v in b.items()}
  with pytest.raises(AssertionError):
    assert_close_overall(a, doubled, **settings)


@pytest.mark.slow
def test_finetuning_adds_styles_and_leaves_the_old_ones_exactly(tmp_path, photo_folder,
                                                                style_folder, rng):
  base = make_config(tmp_path / "base", photo_folder, style_folder, steps=2)
  saved_run(base, (2,))
  new_styles = [write_small_photo(photo, str(tmp_path / f"{name}.png"))
                for name, photo in (("d", "astronaut.png"), ("e", "chelsea.png"))]
  # Batch 1 of 2 new styles: every step leaves one undrawn, its per_style term NaN, which
  # must not be taken for divergence (the NaN check watches the batch's terms only).
  tuned = make_config(tmp_path / "tuned", photo_folder, ",".join(new_styles), steps=3,
                      batch_size=1, finetune_from=base.model_dir, learning_rate=0.05)
  result = train_lib.train(tuned, verbose=False)
  assert result.config.render.styles == NAMES + ("d", "e")
  assert [t for t in result.last_losses if t.startswith("per_style/")] == ["per_style/d",
                                                                          "per_style/e"]
  assert sum(np.isnan(result.last_losses[f"per_style/{n}"]) for n in "de") == 1
  before, after = (export.restore_render_net(m) for m in (base.model_dir, tuned.model_dir))
  x = rng.uniform(0, 255, (1, 40, 40, 3)).astype(np.float32)
  for k in range(3):
    np.testing.assert_array_equal(before([x, one_hot(k)]).numpy(),
                                  after([x, one_hot(k, 5)]).numpy())
  # The new styles' scales and shifts started at the mean of the old ones' and trained:
  # each moved, but no further than three Adam steps of 0.05 can take it.
  moved = []
  for layer in after.layers:
    if isinstance(layer, layers.InstanceNorm):
      old_rows = [np.reshape(w, (3, -1)) for w in before.get_layer(layer.name).get_weights()]
      new_rows = [np.reshape(w, (5, -1)) for w in layer.get_weights()]
      for old_w, new_w in zip(old_rows, new_rows):
        moved.append(np.abs(new_w[3:] - old_w.mean(0)).max(axis=1))
  moved = np.max(moved, axis=0)
  assert (moved > 1e-3).all() and (moved <= 3 * 0.05 * 2).all(), moved
  again = make_config(tmp_path / "again", photo_folder, style_folder,
                      finetune_from=base.model_dir)
  with pytest.raises(ValueError, match="style 'a' is already in"):
    train_lib.train(again, verbose=False)


@pytest.mark.slow
def test_a_colour_skip_networks_new_style_starts_in_its_paintings_colours(
    tmp_path, photo_folder, style_folder):
  render = dict(output_activation="tanh", colour_skip=True)
  base = make_config(tmp_path / "base", photo_folder, style_folder, steps=2, render=render)
  saved_run(base, (2,))
  # A fresh run's rows are its paintings' colours, then trained like every weight.
  paintings = [data.read_image(os.path.join(style_folder, f"{n}.png")) for n in NAMES]
  fresh = train_lib.Trainer(config_lib.replace(base, render=dict(styles=NAMES)),
                            tf.distribute.get_strategy(), paintings,
                            str(tmp_path / "fresh"))
  rows = fresh.model.get_layer(render_net.COLOUR_NORM).get_weights()
  for k, painting in enumerate(paintings):
    mean, std = render_net.painting_colours(painting)
    np.testing.assert_allclose(rows[0][k], std, atol=1e-6)
    np.testing.assert_allclose(rows[1][k], mean, atol=1e-6)
  new = write_small_photo("chelsea.png", str(tmp_path / "d.png"))
  tuned = make_config(tmp_path / "tuned", photo_folder, new, steps=3, render=render,
                      finetune_from=base.model_dir, learning_rate=1e-3)
  train_lib.train(tuned, verbose=False)
  before, after = (export.restore_render_net(m) for m in (base.model_dir, tuned.model_dir))
  old_rows = before.get_layer(render_net.COLOUR_NORM).get_weights()
  new_rows = after.get_layer(render_net.COLOUR_NORM).get_weights()
  mean, std = render_net.painting_colours(data.read_image(new))
  for old, grown, own in zip(old_rows, new_rows, (std, mean)):
    np.testing.assert_array_equal(grown[:3], old)  # the old styles' rows stay exactly
    # The new row started at the painting's colours (not the old rows' mean): three Adam
    # steps of 1e-3 moved it no further than 3e-3 (x2 for the warm-up-free moments).
    assert np.abs(grown[3] - own).max() <= 6e-3
    assert np.abs(grown[3] - old.mean(0)).max() > 0.02
