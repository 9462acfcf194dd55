"""The width-16 student's distillation (experiments/shipped/distill.py) at toy size."""

import dataclasses
import os

import numpy as np
import pytest

from experiments.shipped import distill


def test_styles_are_one_hot_or_a_mix_of_two():
  rng = np.random.default_rng(0)
  weights = distill.draw_styles(rng, 400, 6, 0.25)
  np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-6)
  assert np.all((weights > 0).sum(1) <= 2)
  mixed = np.mean((weights > 0).sum(1) == 2)
  assert 0.15 < mixed < 0.35
  assert set(np.argmax(weights, 1)) == set(range(6))


def test_a_missing_teacher_is_named(tmp_path):
  cfg = dataclasses.replace(distill.QUICK, quick=False, teacher=str(tmp_path / "gone.keras"),
                            work_dir=str(tmp_path / "run"))
  with pytest.raises(ValueError, match="--teacher .*gone.keras: no such file"):
    distill.run(cfg, str(tmp_path / "out"))


@pytest.mark.slow
def test_parts_resume_and_make_a_student_with_the_teachers_styles(tmp_path):
  cfg = dataclasses.replace(distill.QUICK, work_dir=str(tmp_path / "run"), part_steps=3,
                            stages=((6, 32),), batch_size=4, learning_rate=3e-3)
  out = tmp_path / "out"
  out.mkdir()
  first = distill.run(cfg, str(out))
  assert first["step"] == 3
  second = distill.run(cfg, str(out))
  assert second["step"] == 6
  log = distill._read_log(os.path.join(cfg.work_dir, distill.LOSS_LOG))
  assert [int(r[0]) for r in log] == [1, 2, 3, 4, 5, 6]  # resumed, not restarted
  assert all(np.isfinite(float(v)) for r in log for v in r[1:])
  from fastchi_tf import layers
  student = layers.load_model(os.path.join(cfg.work_dir, distill.STUDENT))
  teacher = layers.load_model(os.path.join(cfg.work_dir, distill.TEACHER))
  assert student.get_layer("c1_conv").filters == cfg.width
  assert student.get_layer("style_weights").names == teacher.get_layer("style_weights").names
  assert os.path.exists(out / "gallery.png") and set(second["difference"]) == {"a", "b"}


@pytest.mark.slow
def test_the_student_learns_the_teachers_pictures(tmp_path):
  # One fixed batch: each step of the run's log draws other crops and styles, so whether
  # step 6's loss is under step 1's there depends on the draws (it was not on a CI machine
  # whose arithmetic differed); on one batch, six Adam steps at 1e-3 cut it by 41-74% over
  # twelve seeds of the student's initial weights. The seed is fixed: unseeded, the weights
  # came from whatever state earlier tests in the same worker left (a train run seeds the
  # global generator), and one such draw cut it by only 16%.
  import keras
  import tensorflow as tf
  keras.utils.set_random_seed(0)
  cfg = dataclasses.replace(distill.QUICK, work_dir=str(tmp_path / "run"), learning_rate=1e-3)
  teacher = distill._teacher(cfg, cfg.work_dir)
  distiller = distill.Distiller(cfg, teacher, str(tmp_path / "checkpoints"))
  rng = np.random.default_rng(0)
  images = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32))
  styles = tf.constant([[1.0, 0.0], [0.3, 0.7]])
  losses = [float(distiller.train_step(images, styles)[0]) for _ in range(6)]
  assert losses[-1] < 0.8 * losses[0], losses
