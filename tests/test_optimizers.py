import keras
import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import optimizers


def _train(optimizer_class, strategy, steps=3, restore_from=None):
  """Variables and optimizer state after `steps` Adam steps on fixed gradients."""
  with strategy.scope():
    variables = [keras.Variable(np.random.default_rng(i).normal(size=shape).astype(np.float32),
                                name=f"v{i}")
                 for i, shape in enumerate([(3, 3, 4, 8), (8,), (2, 5)])]
    optimizer = optimizer_class(learning_rate=0.01)
    optimizer.build(variables)
  if restore_from:
    tf.train.Checkpoint(optimizer=optimizer, variables=variables).restore(restore_from)
  grads = [tf.constant(np.random.default_rng(10 + i).normal(size=v.shape).astype(np.float32))
           for i, v in enumerate(variables)]

  @tf.function
  def step():
    strategy.run(lambda: optimizer.apply_gradients(zip(grads, variables)))

  for _ in range(steps):
    step()
  return optimizer, variables


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
