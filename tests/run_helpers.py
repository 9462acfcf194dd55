"""Run folders as training leaves them, made without training.

Tracing a training step costs ~10 s here, and many tests need a run folder but not the
training that made it (exports, resume refusals, fine-tuning starts).
"""

import os

import numpy as np

from fastchi_tf.light import io_utils
from fastchi_tf import layers
from fastchi_tf import train_lib


def randomized(model, seed=0):
  """`model` with every normalization layer's scales and shifts random, so styles differ."""
  rng = np.random.default_rng(seed)
  for layer in model.layers:
    if isinstance(layer, layers.InstanceNorm):
      gamma, beta = layer.get_weights()
      layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                         rng.normal(0, 0.5, beta.shape).astype(np.float32)])
  return model


def saved_run(cfg, steps):
  """Writes cfg's run folder as `train` would leave it at each of `steps`: config.json with
  the inputs' digests, and a checkpoint per step with random scales and shifts (seeded by the
  step). Returns the recorded config."""
  # pylint: disable-next=protected-access
  run = train_lib._setup(cfg, None, allow_config_change=False)  # train's own checks
  os.makedirs(run.cfg.model_dir)
  io_utils.write_text(os.path.join(run.cfg.model_dir, "config.json"), run.cfg.to_json() + "\n")
  trainer = train_lib.Trainer(run.cfg, run.strategy, run.inputs.style_images, run.write_dir)
  for step in steps:
    randomized(trainer.model, seed=step)
    trainer.step.assign(step)
    trainer.manager.save(checkpoint_number=step)
  return run.cfg


def untrained_steps(value):
  """A stand-in for Trainer.run_steps that does not train: every term `value`, no tracing
  (~10 s a start of training saved), for tests of a run's bookkeeping."""
  def run_steps(self, iterator, steps):
    del iterator
    self.step.assign_add(steps)  # as the compiled loop counts them
    return np.full((steps, len(self.terms)), value, np.float32)
  return run_steps
