"""The collection taught L-BFGS optima (experiments/shipped/optimum_distill.py), toy size."""

import dataclasses
import os

import numpy as np
import pytest

from experiments.shipped import distill
from experiments.shipped import optimum_distill


def test_a_batch_crops_photo_and_target_alike_and_repeats_after_a_resume():
  cfg = dataclasses.replace(optimum_distill.QUICK, size=8, crop=4, batch_size=16)
  rng = np.random.default_rng(0)
  # The target is the photo plus 1, so any crop or flip that differs between them shows.
  pairs = [(photo, photo + 1, k) for k, photo in
           enumerate(rng.integers(0, 200, (3, 8, 8, 3)).astype(np.uint8))]
  photos, targets, styles = optimum_distill.draw_batch(pairs, cfg, 5, 3)
  assert photos.shape == targets.shape == (16, 4, 4, 3) and styles.shape == (16, 3)
  np.testing.assert_array_equal(targets, photos + 1)
  # Each example's style is its pair's: the photo's crop is found in that pair's photo.
  for photo, style in zip(photos, styles):
    source = pairs[int(np.argmax(style))][0]
    windows = [source[t:t + 4, l:l + 4] for t in range(5) for l in range(5)]
    windows += [w[:, ::-1] for w in windows]
    assert any(np.array_equal(photo, w) for w in windows)
  again = optimum_distill.draw_batch(pairs, cfg, 5, 3)
  for a, b in zip(again, (photos, targets, styles)):
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(optimum_distill.draw_batch(pairs, cfg, 6, 3)[0], photos)


@pytest.mark.parametrize("change,match", [
    (dict(photos=0), "--photos must be at least 1, got 0"),
    (dict(iterations=0), "--iterations must be at least 1"),
    (dict(crop=64, size=48), "the crop \\(64 px\\) must be 16 px to the targets' size"),
    (dict(objective="nope"), "unknown objective 'nope'"),
])
def test_impossible_settings_are_one_line_before_anything_is_written(change, match, tmp_path):
  cfg = dataclasses.replace(optimum_distill.QUICK, work_dir=str(tmp_path / "run"), **change)
  with pytest.raises(ValueError, match=match):
    optimum_distill.run(cfg, str(tmp_path / "out"))
  assert not os.path.exists(tmp_path / "run")


def test_a_missing_start_is_named(tmp_path):
  cfg = dataclasses.replace(optimum_distill.QUICK, quick=False,
                            start=str(tmp_path / "gone.keras"), work_dir=str(tmp_path / "run"))
  with pytest.raises(ValueError, match="--start .*gone.keras: no such file"):
    optimum_distill.run(cfg, str(tmp_path / "out"))


@pytest.mark.slow
def test_parts_keep_their_targets_resume_and_judge_nothing_in_quick(tmp_path):
  cfg = dataclasses.replace(optimum_distill.QUICK, work_dir=str(tmp_path / "run"),
                            part_steps=2, steps=4, gram_weight=1.0)
  out = tmp_path / "out"
  out.mkdir()
  first = optimum_distill.run(cfg, str(out))
  targets = sorted(os.listdir(tmp_path / "run" / "targets"))
  assert first["step"] == 2 and first["targets"] == len(targets) == 2
  stamps = [os.path.getmtime(tmp_path / "run" / "targets" / t) for t in targets]
  second = optimum_distill.run(cfg, str(out))
  assert second["step"] == 4
  # The targets were kept, not made again.
  assert [os.path.getmtime(tmp_path / "run" / "targets" / t) for t in targets] == stamps
  log = distill._read_log(os.path.join(cfg.work_dir, optimum_distill.LOSS_LOG))
  assert [int(r[0]) for r in log] == [1, 2, 3, 4]  # resumed, not restarted
  assert all(np.isfinite(float(v)) for r in log for v in r[1:])
  assert second["judged"] is None
  assert os.path.exists(os.path.join(cfg.work_dir, optimum_distill.STUDENT))
  for figure in ("targets.png", "gallery.png", "loss_curve.png"):
    assert os.path.exists(out / figure)
  assert "Step 4 of 4" in optimum_distill.report(second, str(out))


def test_gram_matrices_average_over_positions_and_channels():
  features = np.zeros((1, 2, 2, 2), np.float32)
  features[0, :, :, 0] = 2.0  # channel 0 is 2 everywhere, channel 1 is 0
  features[0, 0, 0, 1] = 4.0
  g = optimum_distill.gram(features).numpy()[0]
  # sum over 4 positions / (4 positions x 2 channels)
  np.testing.assert_allclose(g, [[16 / 8, 8 / 8], [8 / 8, 16 / 8]])


@pytest.mark.slow
@pytest.mark.parametrize("pixel_weight", [0.0, 2.0])
def test_the_loss_weighs_the_pixel_term_by_pixel_weight(pixel_weight, tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  cfg = dataclasses.replace(optimum_distill.QUICK, pixel_weight=pixel_weight, gram_weight=0.0,
                            temporal_weight=0.0)
  model = render_net.build_render_net("inception", width=4, styles=("a", "b"),
                                      residual_blocks=1, output_activation="tanh")
  student = optimum_distill.Student(cfg, model, str(tmp_path / "checkpoints"))
  rng = np.random.default_rng(0)
  photos = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)), tf.float32)
  targets = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)), tf.float32)
  loss, pixel, feature, _ = (float(v) for v in student.train_step(
      photos, targets, tf.constant(np.eye(2), tf.float32), tf.constant(0.0),
      tf.constant([0, 0], tf.int64)))
  assert pixel > 0 and feature > 0
  assert loss == pytest.approx(pixel_weight * pixel + feature, rel=1e-5)


@pytest.mark.slow
def test_training_fit_judges_student_and_targets_on_the_first_training_photos():
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from experiments.lib import training  # pylint: disable=g-import-not-at-top
  model = render_net.build_render_net("inception", width=4, styles=("a", "b"),
                                      residual_blocks=1, output_activation="tanh")
  rng = np.random.default_rng(0)
  photos = list(rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8))
  # Style a's targets are the student's own outputs, so they must score as the student does.
  own = training.stylized_in(model, np.stack(photos), np.eye(2)[0])
  pairs = []
  for i, photo in enumerate(photos):
    pairs += [(photo, own[i], 0), (photo, 255 - photo, 1)]
  paintings = {"a": rng.integers(0, 256, (40, 40, 3)).astype(np.uint8),
               "b": rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)}
  fit = optimum_distill.training_fit(model, pairs, ("a", "b"), 2, paintings)
  assert fit["a"]["style"] == pytest.approx(fit["a"]["target_style"])
  assert fit["a"]["structure"] == pytest.approx(fit["a"]["target_structure"])
  # Style b's targets (the photos' negatives) are not the student's outputs: scored apart.
  assert fit["b"]["style"] != pytest.approx(fit["b"]["target_style"])
  assert set(fit["a"]) == {"style", "structure", "target_style", "target_structure"}
