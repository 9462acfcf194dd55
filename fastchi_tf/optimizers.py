"""Adam as one fused kernel per variable.

Keras' Adam builds about 20 ops per variable; with the render networks' ~120 variables
that is ~3 s of tracing per training program here (more under MirroredStrategy, which
traces the update once per device), and as many small kernels each step.
`ResourceApplyAdam` does the same update in one op. The variables are Keras Adam's own
(iterations, momentums, velocities), so checkpoints move freely between the two.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="fastchi_tf")
class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam (without amsgrad), its update fused; equal up to rounding."""

  def __init__(self, *args, name="adam", clip_norm=0.0, warmup_steps=0, **kwargs):
    """`clip_norm` > 0 clips the global batch's gradient to that norm: Keras' own
    `global_clipnorm` clips each replica's part before they are summed, so a run on two
    devices would not learn what the same run on one learns.

    `warmup_steps` > 0 scales the learning rate by min(1, t / warmup_steps) at the
    optimizer's update t (1, 2, ...): a fresh Adam moves every weight by about the learning
    rate in its first steps, whatever the gradient's size, which undoes a trained network
    that a run starts from. Counted by `iterations`, which checkpoints keep, so a resumed
    run ramps exactly as an unbroken one."""
    super().__init__(*args, name=name, **kwargs)  # Adam's variable names too
    if self.amsgrad:
      raise ValueError("FusedAdam has no amsgrad; use keras.optimizers.Adam")
    self.clip_norm = clip_norm
    self.warmup_steps = warmup_steps

  def current_learning_rate(self):
    """The learning rate of the next update, warm-up included."""
    return self._warmed(self.learning_rate)

  def _warmed(self, learning_rate):
    if not self.warmup_steps:
      return learning_rate
    ramp = tf.cast(self.iterations + 1, learning_rate.dtype) / self.warmup_steps
    return learning_rate * tf.minimum(ramp, 1.0)

  def _all_reduce_sum_gradients(self, grads_and_vars):
    # Every update passes here (on one device too, in the default replica context), after
    # the replicas' gradients are summed and before any variable changes.
    reduced = super()._all_reduce_sum_gradients(grads_and_vars)
    if not self.clip_norm:
      return reduced
    kept = [(g, v) for g, v in reduced if g is not None]
    clipped, _ = tf.clip_by_global_norm([g for g, _ in kept], self.clip_norm)
    return list(zip(clipped, [v for _, v in kept]))

  def get_config(self):
    return dict(super().get_config(), clip_norm=self.clip_norm,
                warmup_steps=self.warmup_steps)

  def update_step(self, gradient, variable, learning_rate):
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    learning_rate = self._warmed(learning_rate)
    index = self._get_variable_index(variable)
    beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
    # Its learning rate is Keras' alpha: lr sqrt(1 - beta_2^t) / (1 - beta_1^t).
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].handle,
        v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, step),
        beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype), beta1=beta_1,
        beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
