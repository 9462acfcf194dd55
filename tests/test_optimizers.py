import keras
import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import optimizers


def _train(optimizer_class, strategy, steps=3, restore_from=None, **kwargs):
  """Variables and optimizer state after `steps` Adam steps on fixed gradients: each replica
  gives a part of each, and the parts sum to the same gradient on any number of replicas."""
  with strategy.scope():
    variables = [keras.Variable(np.random.default_rng(i).normal(size=shape).astype(np.float32),
                                name=f"v{i}")
                 for i, shape in enumerate([(3, 3, 4, 8), (8,), (2, 5)])]
    optimizer = optimizer_class(learning_rate=0.01, **kwargs)
    optimizer.build(variables)
  if restore_from:
    tf.train.Checkpoint(optimizer=optimizer, variables=variables).restore(restore_from)
  grads = [tf.constant(_gradient(i, v.shape)) for i, v in enumerate(variables)]
  n = strategy.num_replicas_in_sync

  def replica_step():
    # Unequal parts (1/3 and 2/3 on two replicas): a tensor that every replica shares is
    # not summed by all_reduce, so each must compute its own.
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    part = tf.cast(replica + 1, tf.float32) / (n * (n + 1) / 2)
    optimizer.apply_gradients(zip([g * part for g in grads], variables))

  @tf.function
  def step():
    strategy.run(replica_step)

  for _ in range(steps):
    step()
  return optimizer, variables


def _gradient(i, shape):
  return np.random.default_rng(10 + i).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_adam_takes_keras_adams_steps(replicas, mirrored):
  strategy = mirrored if replicas == 2 else tf.distribute.get_strategy()
  expected, expected_vars = _train(keras.optimizers.Adam, strategy)
  fused, fused_vars = _train(optimizers.FusedAdam, strategy)
  assert int(fused.iterations.numpy()) == 3
  # The same variables (momentums, velocities) hold the same values, up to rounding.
  assert [v.name for v in fused.variables] == [v.name for v in expected.variables]
  for a, b in zip(expected.variables + expected_vars, fused.variables + fused_vars):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
  moved = np.abs(np.asarray(fused_vars[2]) - np.random.default_rng(2).normal(size=(2, 5)))
  assert moved.min() > 0.02  # three steps of about the learning rate each


def test_a_keras_adam_checkpoint_resumes_with_fused_adam(tmp_path):
  strategy = tf.distribute.get_strategy()
  adam, variables = _train(keras.optimizers.Adam, strategy, steps=2)
  path = tf.train.Checkpoint(optimizer=adam, variables=variables).write(str(tmp_path / "ckpt"))
  resumed, resumed_vars = _train(optimizers.FusedAdam, strategy, steps=1, restore_from=path)
  straight, straight_vars = _train(keras.optimizers.Adam, strategy, steps=3)
  assert int(resumed.iterations.numpy()) == 3
  for a, b in zip(straight.variables + straight_vars, resumed.variables + resumed_vars):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_amsgrad_is_refused():
  with pytest.raises(ValueError, match="no amsgrad"):
    optimizers.FusedAdam(amsgrad=True)


@pytest.mark.parametrize("replicas", [1, 2])
def test_clip_norm_clips_the_summed_gradient(replicas, mirrored):
  strategy = mirrored if replicas == 2 else tf.distribute.get_strategy()
  grads = [_gradient(i, shape) for i, shape in enumerate([(3, 3, 4, 8), (8,), (2, 5)])]
  norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
  assert norm > 10  # so that clipping to 1 changes it
  optimizer, _ = _train(optimizers.FusedAdam, strategy, steps=1, clip_norm=1.0)
  # After one step a momentum is (1 - beta_1) times the gradient applied: the whole batch's
  # gradient scaled to norm 1, on one device and on two alike. (Clipping each replica's
  # half, as Keras' global_clipnorm does, would give twice that on two.)
  for momentum, g in zip(optimizer._momentums, grads):
    np.testing.assert_allclose(np.asarray(momentum), 0.1 * g / norm, rtol=1e-4, atol=1e-7)
  unclipped, _ = _train(optimizers.FusedAdam, strategy, steps=1)
  np.testing.assert_allclose(np.asarray(unclipped._momentums[1]), 0.1 * grads[1], rtol=1e-5)
  assert optimizers.FusedAdam.from_config(optimizer.get_config()).clip_norm == 1.0


def test_warmup_ramps_the_learning_rate_and_resumes_exactly(tmp_path):
  strategy = tf.distribute.get_strategy()
  plain, plain_vars = _train(optimizers.FusedAdam, strategy, steps=1)
  warm, warm_vars = _train(optimizers.FusedAdam, strategy, steps=1, warmup_steps=4)
  start = np.random.default_rng(2).normal(size=(2, 5))
  # Adam's first step is about the learning rate for every weight; a quarter of it here.
  np.testing.assert_allclose(np.abs(np.asarray(warm_vars[2]) - start),
                             np.abs(np.asarray(plain_vars[2]) - start) / 4, rtol=1e-4)
  assert float(warm.current_learning_rate()) == pytest.approx(0.01 * 2 / 4)
  path = tf.train.Checkpoint(optimizer=warm, variables=warm_vars).write(str(tmp_path / "c"))
  resumed, resumed_vars = _train(optimizers.FusedAdam, strategy, steps=5, warmup_steps=4,
                                 restore_from=path)
  straight, straight_vars = _train(optimizers.FusedAdam, strategy, steps=6, warmup_steps=4)
  for a, b in zip(straight.variables + straight_vars, resumed.variables + resumed_vars):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
  assert float(straight.current_learning_rate()) == pytest.approx(0.01)  # ramped
  assert optimizers.FusedAdam.from_config(warm.get_config()).warmup_steps == 4
