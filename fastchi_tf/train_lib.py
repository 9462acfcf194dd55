"""Training a render network: a custom synchronous loop under any tf.distribute strategy.

`train` sets a run up (`_setup`: everything that can be wrong with the inputs is checked
before anything is written, so a failed start leaves `model_dir` as it was), holds its folder
(run_folder.lock_folder), and runs the loop (`_loop`), which reports through `_RunLog`.
Ctrl-C stops it between steps with a checkpoint (see `Interrupted`). The folder's upkeep
(its lock, Ctrl-C's wait, the loss log's trimming, the removal of a failed start's files,
the settings history) is fastchi_tf.run_folder's; whether the run may start or resume
there, fastchi_tf.resume_checks'.
"""

import collections
import csv
import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Any, Callable, Iterator, Optional

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from fastchi_tf import config as config_lib
from fastchi_tf import data
from fastchi_tf import distribute
from fastchi_tf.light import io_utils
from fastchi_tf import losses
from fastchi_tf import optimizers
from fastchi_tf import temporal
from fastchi_tf import plots
from fastchi_tf import precision
from fastchi_tf import render_net
from fastchi_tf import resume_checks
from fastchi_tf import run_folder
from fastchi_tf.light import styles
from fastchi_tf.loss_net import build_loss_net
from fastchi_tf.progress import Progress
from fastchi_tf.render_net import build_render_net

TERMS = ("total", "content", "style", "tv")  # the columns of run_folder.LOSS_LOG
NUM_SUMMARY_IMAGES = 2
# A blow-up is judged against the median loss of this many steps: healthy runs of the
# shipped recipe stayed within 1.55 times it; a diverging one crossed 7 (issue 14's notes).
JUMP_WINDOW = 100
# The terms whose last JUMP_WINDOW values the checkpoint keeps, unweighted: a run resumed with
# other loss weights judges its steps against the same losses weighted anew.
WINDOW_TERMS = ("content", "style", "tv", "temporal")
MAX_STEPS_PER_CALL = 20  # bounds the time between progress updates (and Ctrl-C's wait)


class TrainingError(RuntimeError):
  """Training cannot go on (the loss diverged)."""


class Interrupted(KeyboardInterrupt):
  """Ctrl-C stopped the run. A KeyboardInterrupt, so callers that stop on one still do.

  Attributes:
    step: the step reached, or None if training had not begun.
    checkpoint: the run's last checkpoint (intact), or None.
    checkpoint_step: its step.
  """

  def __init__(self, step, checkpoint):
    self.step, self.checkpoint = step, checkpoint
    self.checkpoint_step = int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None
    where = "before training began" if step is None else f"at step {step}"
    if checkpoint:
      kept = (f"checkpoint {os.path.basename(checkpoint)} (step {self.checkpoint_step}) is "
              "intact; the same command resumes from it")
    else:
      kept = "no checkpoint yet; the same command starts the run again"
    super().__init__(f"stopped {where}; {kept}")


@dataclasses.dataclass
class TrainResult:
  step: int  # global step reached
  skipped_files: int  # undecodable training images replaced by a good one
  model_dir: str
  last_losses: dict  # {term: value} of the last step (see Trainer.terms)
  config: config_lib.TrainConfig = None  # as recorded in config.json
  config_changes: list = dataclasses.field(default_factory=list)  # accepted on resuming


@dataclasses.dataclass
class _Inputs:
  style_images: list  # one [h, w, 3] per style trained, in the order of style_names
  style_names: list
  files: list  # empty for tfds sources
  style_sha256: str
  train_data_sha256: str  # None for tfds sources
  fallback: str  # a decodable file standing in for undecodable ones
  preview: np.ndarray  # fixed content images for image summaries
  skipped: data.SkipCounter  # undecodable files met so far (the pipeline adds more)


def _check_inputs(cfg, strategy):
  """Validates data, style image and batch split; returns what training reads."""
  replicas = strategy.num_replicas_in_sync
  if cfg.batch_size % replicas:
    raise ValueError(f"--batch_size={cfg.batch_size} cannot be shared by {replicas} replicas "
                     f"(use a multiple of {replicas})")
  style_files = styles.style_files(cfg.data.style_image)
  style_images = [data.read_image(f) for f in style_files]  # each unreadable one named
  digests = [data.file_sha256(f) for f in style_files]
  style_names = [styles.style_name(f) for f in style_files]
  skipped = data.SkipCounter()
  style_sha256 = digests[0] if len(digests) == 1 else hashlib.sha256("".join(
      f"{n}:{d}\n" for n, d in zip(style_names, digests)).encode()).hexdigest()
  if cfg.data.train_data.startswith("tfds:"):
    data.check_tfds_name(cfg.data.train_data[len("tfds:"):])
    files, preview_files, fallback, files_sha256 = [], [], "", None
  else:
    files = data.list_images(cfg.data.train_data)
    files_sha256 = data.files_sha256(cfg.data.train_data, files)
    first = data.first_decodable(files, skipped)
    fallback = files[first]
    preview_files = [files[first]]
    for path in files[first + 1:]:
      if len(preview_files) == NUM_SUMMARY_IMAGES:
        break
      try:
        data.read_image(path)
        preview_files.append(path)
      except data.DataError:
        skipped.add(path)
  preview = [_center_crop(data.read_image(p), cfg.data.image_size) for p in preview_files]
  preview = np.stack(preview) if preview else np.zeros((0, cfg.data.image_size,
                                                         cfg.data.image_size, 3), np.float32)
  return _Inputs(style_images, style_names, files, style_sha256, files_sha256, fallback,
                 preview, skipped)


def _center_crop(image, size):
  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  crop = tf.cast(image[top:top + side, left:left + side], tf.float32)
  return tf.image.resize(crop, [size, size], method="area", antialias=True).numpy()


def _multi_worker(strategy):
  resolver = getattr(strategy, "cluster_resolver", None)
  return bool(resolver is not None and resolver.task_type)


def _say(verbose, message):
  """A line for the user: on stderr beside the progress line, or to the log when quiet."""
  if verbose:
    print(message, file=sys.stderr, flush=True)
  else:
    logging.warning("%s", message)


class Trainer:
  """Holds the model, optimizer, checkpoint and compiled loop of one run.

  `terms` names the losses each step returns: TERMS, then each style layer's part of the
  style term ("style/relu1_2"), unweighted like it, and for a multi-style network each
  style's style term ("per_style/NAME": the mean over the step's examples of that style,
  NaN in a step that drew none of it).

  A multi-style network (cfg.render.styles) draws a style per example (data.draw_styles), renders
  it with that style's one-hot weights, and scores it against that style's Gram matrices.
  `style_images` are the styles trained: all of them, or with cfg.finetune_from the new ones
  (the last of cfg.render.styles), whose scales and shifts alone then train, the rest of the
  network held as the earlier run left it.
  """

  def __init__(self, cfg: config_lib.TrainConfig, strategy: tf.distribute.Strategy,
               style_images: list, write_dir: str) -> None:
    self.cfg = cfg
    self.strategy = strategy
    self.write_dir = write_dir
    # The loss-jump guard's window, saved with each checkpoint so that a resumed run goes on
    # judging (see keep_window, restored_window): the last steps' unweighted WINDOW_TERMS
    # (NaN: no step yet, or the temporal term off), and the settings that defined them.
    # Plain variables (outside the strategy): only Python reads and writes them.
    self.loss_window = tf.Variable(tf.fill([JUMP_WINDOW, len(WINDOW_TERMS)], np.nan),
                                   trainable=False, name="loss_window")
    self.loss_definition = tf.Variable("", trainable=False, name="loss_definition")
    with strategy.scope(), precision.dtype_policy(cfg.mixed_precision):
      keras.utils.set_random_seed(cfg.seed)
      self.model = build_render_net(**dataclasses.asdict(cfg.render))
      self.style_names = tuple(cfg.render.styles or ())
      # Style k of the style images is the network's style first_trained + k.
      self.first_trained = len(self.style_names) - len(style_images) if self.style_names else 0
      self.train_vars, self._masks = self.model.trainable_variables, None
      if cfg.finetune_from:
        self.train_vars, self._masks = _start_from(self.model, cfg.finetune_from,
                                                   self.first_trained)
      # The colour skip's rows of the styles trained are the paintings' own colours (a
      # restored checkpoint then overwrites them with what training made of them).
      render_net.set_colour_rows(self.model, style_images, self.first_trained)
      self.loss_net = build_loss_net(**dataclasses.asdict(cfg.loss_net))
      self.optimizer = optimizers.FusedAdam(learning_rate=cfg.learning_rate,
                                            clip_norm=cfg.clip_norm,
                                            warmup_steps=cfg.warmup_steps)
      if cfg.mixed_precision:
        # Scales the loss up so float16 gradients do not underflow; skips steps that
        # overflow and lowers the scale.
        self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
      self.optimizer.build(self.train_vars)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
      self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                            step=self.step, loss_window=self.loss_window,
                                            loss_definition=self.loss_definition)
    self.manager = tf.train.CheckpointManager(self.checkpoint, write_dir, max_to_keep=3)
    targets = [losses.style_targets(self.loss_net, image, cfg.data.style_size,
                                    cfg.loss.style_statistic)
               for image in style_images]
    # {layer: [c, c]} for one style, {layer: [styles, c, c]} to gather from for several.
    self.style_grams = targets[0] if not self.style_names else {
        layer: tf.stack([t[layer] for t in targets]) for layer in targets[0]}
    self.trained_names = self.style_names[self.first_trained:]
    # The temporal term exists only when weighted, so default runs stay as they were.
    self.temporal = None
    if cfg.temporal.weight > 0:
      settings = dataclasses.asdict(cfg.temporal)
      del settings["weight"]
      self.temporal = temporal.TemporalSettings(**settings)
    # losses.csv's columns: TERMS, and "temporal" when it is on.
    self.log_terms = TERMS + (("temporal",) if self.temporal else ())
    self.terms = (self.log_terms + tuple(f"style/{layer}" for layer in self.style_grams) +
                  tuple(f"per_style/{name}" for name in self.trained_names))
    # Each replica's share of the global batch (the readers drop remainders): static, where
    # a multi-worker batch's shape is not.
    self._per_replica = cfg.batch_size // strategy.num_replicas_in_sync
    # Without autograph: it converted the step's Python (52 functions, its own and the
    # losses') on every new process's first trace, 10 s of a small run's 32 s. The loop is
    # a tf.while_loop and the step has no control flow on tensors.
    self._loop = tf.function(self._train_loop, autograph=False)

  @property
  def adam(self) -> optimizers.FusedAdam:
    """The optimizer itself, inside mixed precision's loss-scaling wrapper."""
    return getattr(self.optimizer, "inner_optimizer", self.optimizer)

  def restore(self) -> int:
    """Restores the latest checkpoint, if any; returns the step to start from."""
    latest = self.manager.latest_checkpoint
    if latest:
      checkpoint = self.checkpoint
      if not any(name.startswith("loss_window/") for name, _ in tf.train.list_variables(latest)):
        # A checkpoint from before the window was kept: the rest of it, the window empty.
        checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                         step=self.step)
      checkpoint.restore(latest).assert_existing_objects_matched()
      # The checkpoint holds Adam's learning rate too: without this, a run resumed with
      # another --learning_rate (as a blow-up's message advises) would go on at the old one.
      self.adam.learning_rate.assign(self.cfg.learning_rate)
    return int(self.step.numpy())

  def window_rows(self, history: np.ndarray) -> np.ndarray:
    """The WINDOW_TERMS columns [n, 4] of run_steps' losses (temporal NaN when off)."""
    rows = np.full((len(history), len(WINDOW_TERMS)), np.nan, np.float32)
    for k, name in enumerate(WINDOW_TERMS):
      if name in self.log_terms:
        rows[:, k] = history[:, self.log_terms.index(name)]
    return rows

  def keep_window(self, rows: np.ndarray) -> None:
    """Stores the last JUMP_WINDOW `rows` (oldest first) for the next checkpoint."""
    rows = np.asarray(rows, np.float32)[-JUMP_WINDOW:].reshape(-1, len(WINDOW_TERMS))
    padded = np.full((JUMP_WINDOW, len(WINDOW_TERMS)), np.nan, np.float32)
    padded[JUMP_WINDOW - len(rows):] = rows
    self.loss_window.assign(padded)
    self.loss_definition.assign(json.dumps(resume_checks.loss_terms_settings(self.cfg),
                                           sort_keys=True))

  def restored_window(self) -> tuple[np.ndarray, Optional[str]]:
    """(the restored checkpoint's window rows that this run's loss can judge against,
    oldest first; why they are none, or None).

    Rows recorded under settings that define the terms otherwise (a loss network, layers,
    sizes, style image), or without the temporal term this run weighs, cannot be: the
    guard then starts afresh, and the reason says so.
    """
    rows = self.loss_window.numpy()
    rows = rows[~np.isnan(rows[:, 0])]
    if not len(rows):
      return rows, None
    recorded = json.loads(self.loss_definition.numpy().decode() or "{}")
    now = resume_checks.loss_terms_settings(self.cfg)
    changed = sorted({config_lib.flag_name(k) for k in set(recorded) | set(now)
                      if recorded.get(k) != now.get(k)})
    if changed:
      return rows[:0], ("the loss-jump guard starts afresh: "
                        f"{', '.join('--' + n for n in changed)} changed what the loss measures")
    if self.temporal and np.isnan(rows[:, 3]).any():
      return rows[:0], ("the loss-jump guard starts afresh: the checkpoint's recent steps "
                        "had no temporal term")
    return rows, None

  def window_totals(self, rows: np.ndarray) -> np.ndarray:
    """The total losses of window `rows` under this run's loss weights."""
    loss = self.cfg.loss
    weights = [loss.content_weight, loss.style_weight, loss.tv_weight]
    totals = np.asarray(rows, np.float64)[:, :3] @ np.asarray(weights, np.float64)
    if self.temporal:
      totals += self.cfg.temporal.weight * np.asarray(rows, np.float64)[:, 3]
    return totals

  def _render(self, images, style=None, training=True):
    """The render network's float32 output; `style` one-hot (or mixed) weights [b, N]."""
    inputs = images if style is None else [images, style]
    # float16 under mixed precision; losses are computed in float32
    return tf.cast(self.model(inputs, training=training), tf.float32)

  def _replica_step(self, images):
    cfg = self.cfg
    grams, style, drawn = self.style_grams, None, None
    if self.style_names:
      # This replica's share of the global batch's draw (see data.draw_styles).
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      offset = replica * self._per_replica
      drawn = data.draw_styles(cfg.seed, self.step, cfg.batch_size, len(self.trained_names))
      mine = drawn[offset:offset + self._per_replica]
      style = tf.one_hot(mine + self.first_trained, len(self.style_names), dtype=tf.float32)
      grams = {layer: tf.gather(g, mine) for layer, g in grams.items()}
    with tf.GradientTape() as tape:
      rendered = self._render(images, style)
      # One loss-network pass over rendered and content images together.
      features = self.loss_net(tf.concat([rendered, images], axis=0))
      n = tf.shape(images)[0]
      generated = {k: v[:n] for k, v in features.items()}
      content = {k: features[k][n:] for k in self.loss_net.content_layers}
      per_example, terms = losses.perceptual_loss(
          generated, content, grams, rendered, self.loss_net.content_layers,
          **dataclasses.asdict(cfg.loss))
      if self.temporal:
        per_example, terms = self._add_temporal(images, rendered, style, per_example, terms)
      # Scaled by the global batch: summing over replicas then gives the batch mean.
      loss = tf.reduce_sum(per_example) / cfg.batch_size
      scaled = self.optimizer.scale_loss(loss) if cfg.mixed_precision else loss
    grads = tape.gradient(scaled, self.train_vars)
    if self._masks:  # fine-tuning: the earlier styles' rows stay exactly as they were
      grads = [g * m for g, m in zip(grads, self._masks)]
    self.optimizer.apply_gradients(zip(grads, self.train_vars))
    if self.style_names:
      terms = dict(terms, **self._per_style(terms["style"], drawn, style))
    values = [loss] + [tf.reduce_sum(terms[t]) / cfg.batch_size for t in self.terms[1:]]
    return tf.stack(values)

  def _per_style(self, style_loss, drawn, style):
    """{"per_style/NAME": [b]} whose global sum over batch_size is the mean style loss of
    the step's examples of that style (NaN if the step drew none)."""
    trained = len(self.trained_names)
    counts = tf.reduce_sum(tf.one_hot(drawn, trained), axis=0)
    scale = tf.where(counts > 0, self.cfg.batch_size / tf.maximum(counts, 1.0), np.nan)
    return {f"per_style/{name}": style_loss * style[:, self.first_trained + k] * scale[k]
            for k, name in enumerate(self.trained_names)}

  def _add_temporal(self, images, rendered, style, per_example, terms):
    """Adds weight x |warp(f(x), F) - f(x')|^2, x' a randomly moved and noised x."""
    # The second frames are a pure function of (seed, step, position in the global batch):
    # a resumed run, and any number of replicas, draw what one device would.
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    seed = tf.stack([tf.constant(self.cfg.seed, tf.int64), self.step])
    second, flow, valid = temporal.second_frames(
        images, seed, self.temporal, total=self.cfg.batch_size,
        offset=replica * self._per_replica)
    rendered_second = self._render(second, style)
    term = temporal.temporal_loss(rendered, rendered_second, flow, valid)
    return (per_example + self.cfg.temporal.weight * term,
            dict(terms, temporal=term))

  def _train_loop(self, iterator, steps):
    def step(i, history):
      per_replica = self.strategy.run(self._replica_step, args=(next(iterator),))
      history = history.write(i, self.strategy.reduce("SUM", per_replica, axis=None))
      self.step.assign_add(1)
      return i + 1, history

    _, history = tf.while_loop(lambda i, _: i < steps, step,
                               (tf.constant(0), tf.TensorArray(tf.float32, size=steps)))
    return history.stack()

  def run_steps(self, iterator: Iterator[Any], steps: int) -> np.ndarray:
    """Runs `steps` training steps; returns their [steps, len(terms)] losses."""
    return self._loop(iterator, tf.constant(steps, tf.int32)).numpy()

  def stylize(self, images: np.ndarray, style_index: int = 0) -> tf.Tensor:
    """The network's output on float images [b, h, w, 3]; a multi-style one in style
    `style_index`."""
    images = tf.convert_to_tensor(images, tf.float32)
    style = None
    if self.style_names:
      style = tf.one_hot([style_index] * images.shape[0], len(self.style_names))
    return self._render(images, style, training=False)


# Layer settings that may differ between the earlier network and the one it grows into: the
# style count and names (that is the growing), and how a convolution is computed
# (space_to_depth: the same function). Any other difference, such as the head's activation,
# which has no weights to disagree, makes it another network.
_GROWING_FIELDS = ("name", "dtype", "trainable", "num_styles", "names", "batch_shape",
                   "space_to_depth")


def _check_same_layer(layer, earlier):
  """ValueError unless `earlier` is `layer`'s kind with its settings (_GROWING_FIELDS aside)."""
  mine, theirs = ({k: v for k, v in l.get_config().items() if k not in _GROWING_FIELDS}
                  for l in (layer, earlier))
  if type(layer).__name__ != type(earlier).__name__ or mine != theirs:
    differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    raise ValueError(f"the saved network's {type(earlier).__name__} has "
                     + ", ".join(f"{k}={theirs.get(k)!r}" for k in differ)
                     + ", the render settings give "
                     + ", ".join(f"{k}={mine.get(k)!r}" for k in differ))


def _start_from(model, finetune_from, old):
  """Loads the run `finetune_from` into `model`, which has its `old` styles first; returns
  (the variables to train, their gradient masks): every normalization layer's scale and
  shift, masked to the rows of the new styles. New rows start at the mean of the old ones."""
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  try:
    earlier = (layers.load_model(finetune_from) if config_lib.is_keras_file(finetune_from)
               else export.restore_render_net(finetune_from))
  except ValueError as e:
    raise ValueError(f"--finetune_from: {e}") from None
  variables, masks = [], []
  for layer in model.layers:
    try:
      weights = earlier.get_layer(layer.name).get_weights()
      _check_same_layer(layer, earlier.get_layer(layer.name))
      if not isinstance(layer, layers.StyleAffine):  # InstanceNorm too
        layer.set_weights(weights)
        continue
    except ValueError as e:  # a saved network that the render settings do not describe
      raise ValueError(f"--finetune_from {finetune_from} is not the network the render "
                       f"settings describe (layer {layer.name}: {e})") from None
    rows = [np.reshape(w, (old, -1)) for w in weights]  # [old * C] -> [old, C]
    new = layer.num_styles - old
    layer.set_weights([np.concatenate([r, np.repeat(r.mean(0, keepdims=True), new, 0)])
                       for r in rows])
    mask = np.concatenate([np.zeros((old, 1)), np.ones((new, 1))]).astype(np.float32)
    variables += [layer.gamma, layer.beta]
    masks += [tf.constant(mask), tf.constant(mask)]
  return variables, masks


def _make_dataset_fn(cfg, inputs, start_step, counter):
  def dataset_fn(input_context):
    common = dict(image_size=cfg.data.image_size, global_batch=cfg.batch_size,
                  input_context=input_context, deterministic=cfg.deterministic)
    if inputs.files:
      return data.folder_dataset(inputs.files, seed=cfg.seed, start_step=start_step,
                                 counter=counter, fallback=inputs.fallback, **common)
    return data.tfds_dataset(cfg.data.train_data[len("tfds:"):],
                             data_dir=cfg.data.tfds_data_dir, seed=cfg.seed + start_step,
                             **common)
  return dataset_fn


def _next_boundary(step, every):
  return (step // every + 1) * every


def train(cfg: config_lib.TrainConfig, strategy: Optional[tf.distribute.Strategy] = None,
          verbose: bool = True,
          on_summary: Optional[Callable[[int, keras.Model], None]] = None,
          allow_config_change: bool = False,
          stop_when: Optional[Callable[[int, keras.Model], bool]] = None) -> TrainResult:
  """Trains (or resumes) the run described by `cfg`; returns a TrainResult.

  `on_summary(step, model)`, if given, is called at step 0 of a new run and wherever summaries
  are written (every `cfg.summary_every` steps and at the end), e.g. to save snapshots.
  `allow_config_change` lets a resumed run go on with settings that change what it learns
  (resume_checks.check_resumable); the changes are reported and recorded in config.json.
  `stop_when(step, model)`, if given, is asked between calls of the compiled loop (every
  MAX_STEPS_PER_CALL steps at most, and before the first): True ends the run there with a
  checkpoint, as reaching `cfg.steps` does (a time budget: fastchi add-style); the result's
  `step` is the step reached.

  Raises:
    ValueError / data.DataError: bad configuration or inputs (nothing written).
    run_folder.InUseError: another run holds the folder (nothing written).
    TrainingError: the loss became NaN or infinite, or jumped (cfg.max_loss_jump); the last
      good checkpoint is kept.
    Interrupted: Ctrl-C; the run stopped between steps and saved a checkpoint there
      (except a worker of a multi-worker run: its last checkpoint is kept).
  """
  write_dir = None
  try:
    run = _setup(cfg, strategy, allow_config_change)
    run.stop_when = stop_when
    write_dir = run.write_dir
    if not os.path.isdir(write_dir):
      io_utils.prepare_folder(write_dir)
    # Held before anything else is written, and checked for writing only once held, so a
    # refused run leaves the folder exactly as it was.
    with run_folder.lock_folder(write_dir):
      io_utils.check_writable_folder(write_dir)
      return _train_locked(run, verbose, on_summary, allow_config_change)
  except Interrupted:
    raise
  except KeyboardInterrupt:
    # Ctrl-C before the loop began (e.g. while building the networks): nothing half-done.
    latest = tf.train.latest_checkpoint(write_dir) if write_dir and os.path.isdir(write_dir) \
        else None
    raise Interrupted(None, latest) from None


@dataclasses.dataclass
class _Run:
  """A run as `_setup` resolved it."""
  cfg: config_lib.TrainConfig  # with its inputs' digests
  strategy: tf.distribute.Strategy
  inputs: _Inputs
  chief: bool
  write_dir: str  # a non-chief worker writes (and so holds) a folder of its own
  stop_when: Optional[Callable[[int, keras.Model], bool]] = None  # see train


def _setup(cfg, strategy, allow_config_change):
  """Checks the configuration, inputs and folder, and resolves the run; writes nothing."""
  cfg.validate()
  strategy = strategy or distribute.make_strategy(cfg.strategy, cfg.devices)
  inputs = _check_inputs(cfg, strategy)
  # The inputs' digests go into config.json with the settings (on a copy: the caller's
  # config is left alone).
  render = dict(styles=tuple(inputs.style_names) if len(inputs.style_names) > 1 else None)
  if cfg.finetune_from:
    render = _finetuned_render(cfg, inputs.style_names)
  cfg = config_lib.replace(cfg, data=dict(style_sha256=inputs.style_sha256,
                                          train_data_sha256=inputs.train_data_sha256),
                           render=render)
  chief = distribute.is_chief(strategy)
  write_dir = cfg.model_dir if chief else os.path.join(
      cfg.model_dir, "workers", distribute.task_name(strategy))
  resume_checks.check_model_dir(cfg, allow_config_change)  # before anything is written
  return _Run(cfg, strategy, inputs, chief, write_dir)


def _finetuned_render(cfg, new_names):
  """The render config of a fine-tuning run: the earlier run's network, its styles and then
  the new ones. A saved network (.keras) is the run's own render settings with its styles."""
  if config_lib.is_keras_file(cfg.finetune_from):
    from fastchi_tf.light import model_files  # pylint: disable=g-import-not-at-top
    old = model_files.style_names(cfg.finetune_from)
    if not old:
      raise ValueError(f"--finetune_from {cfg.finetune_from} is not a multi-style network")
    return dict(dataclasses.asdict(cfg.render), styles=tuple(old) + tuple(new_names))
  path = os.path.join(cfg.finetune_from, "config.json")
  if not os.path.isfile(path):
    raise ValueError(f"--finetune_from {cfg.finetune_from} is not a training run "
                     "(no config.json)")
  if not tf.train.latest_checkpoint(cfg.finetune_from):
    raise ValueError(f"--finetune_from {cfg.finetune_from} has no checkpoint yet")
  with open(path) as f:
    earlier = config_lib.TrainConfig.from_dict(json.load(f))
  if io_utils.is_within(cfg.model_dir, cfg.finetune_from):
    raise ValueError(f"--model_dir {cfg.model_dir} is the --finetune_from run; give a new "
                     "folder")
  old = earlier.render.styles  # (config.check refuses a single-style run)
  repeated = [n for n in new_names if n in old]
  if repeated:
    raise ValueError(f"style {repeated[0]!r} is already in {cfg.finetune_from} "
                     f"(styles {', '.join(old)})")
  return dict(dataclasses.asdict(earlier.render), styles=tuple(old) + tuple(new_names))


def _train_locked(run, verbose, on_summary, allow_config_change):
  """`train` once the folder is held, with op determinism on for --deterministic and back
  as it was afterwards (it is process-wide, and it makes ops such as tf.timestamp fail)."""
  # Only the internal module can turn it off again.
  # pylint: disable-next=g-direct-tensorflow-import
  from tensorflow.python.framework import config as tf_config
  was = tf_config.is_op_determinism_enabled()
  try:
    if run.cfg.deterministic:
      tf.config.experimental.enable_op_determinism()
    return _train_held(run, verbose, on_summary, allow_config_change)
  finally:
    if not was:
      tf_config.disable_op_determinism()


def _train_held(run, verbose, on_summary, allow_config_change):
  """_train_run, and when a new run fails or is stopped before its first checkpoint (a bad
  loss-weights file, Ctrl-C while the networks are built), what it wrote is removed: its
  config.json would hold the folder to settings nothing was trained with."""
  before = set(os.listdir(run.write_dir))
  new = "config.json" not in before and not tf.train.latest_checkpoint(run.write_dir)
  try:
    return _train_run(run, verbose, on_summary, allow_config_change)
  except TrainingError:
    raise  # (its losses.csv shows how the loss went wrong)
  except BaseException:
    try:
      run_folder.remove_written(run.write_dir, before, all_run_files=(
          new and not tf.train.latest_checkpoint(run.write_dir)))
    except OSError:
      pass  # (the run's own error is the one to report)
    raise


def _train_run(run, verbose, on_summary, allow_config_change):
  """Records the settings, restores, runs the loop."""
  cfg = run.cfg
  # Again: another run may have changed config.json before this one took the folder.
  changes = resume_checks.check_model_dir(cfg, allow_config_change)
  previous = config_lib.TrainConfig.of_run(cfg.model_dir) if changes else None
  if changes:
    _say(verbose, f"resuming {cfg.model_dir} with changed settings (--allow_config_change): "
         f"{'; '.join(changes)}")
  trainer = Trainer(cfg, run.strategy, run.inputs.style_images, run.write_dir)
  start = trainer.restore()
  if run.chief:
    if changes:  # config.json is about to forget the earlier settings: the history keeps them
      run_folder.record_change(cfg.model_dir, start, changes, previous)
    io_utils.write_text(os.path.join(cfg.model_dir, "config.json"), cfg.to_json() + "\n")
  run_folder.trim_loss_log(os.path.join(run.write_dir, run_folder.LOSS_LOG), start)
  if start >= cfg.steps:
    logging.info("%s is already at step %d of %d", cfg.model_dir, start, cfg.steps)
    return TrainResult(start, 0, cfg.model_dir, {}, cfg, changes)
  recent = ()
  if start:
    if verbose:
      print(f"resuming {cfg.model_dir} from step {start}", file=sys.stderr, flush=True)
    logging.info("resuming %s from step %d", cfg.model_dir, start)
    recent, why = trainer.restored_window()
    if why and cfg.max_loss_jump:
      _say(verbose, why)

  counter = run.inputs.skipped
  # From here Ctrl-C stops the run between calls of the compiled loop, never inside a
  # checkpoint or log write.
  try:
    with run_folder.StopRequest() as stop:
      iterator = iter(run.strategy.distribute_datasets_from_function(
          _make_dataset_fn(cfg, run.inputs, start, counter)))
      with _RunLog(cfg, trainer, run.write_dir, run.inputs.preview, verbose, on_summary,
                   start) as log:
        last = _loop(cfg, trainer, iterator, log, start, stop, _multi_worker(run.strategy),
                     recent, run.stop_when)
  finally:
    if counter.count:  # one line however many, rather than a warning each
      _say(verbose, counter.summary())
  if run.chief:
    loss_log = plots.read_loss_log(os.path.join(run.write_dir, run_folder.LOSS_LOG))
    plots.plot_loss_curves(loss_log, os.path.join(cfg.model_dir, "loss_curve.png"))
  return TrainResult(int(trainer.step.numpy()), counter.count, cfg.model_dir, last, cfg,
                     changes)


def _loop(cfg, trainer, iterator, log, start, stop, multi_worker, recent=(), stop_when=None):
  """Trains from step `start` to `cfg.steps`, saving and reporting at their intervals.

  `recent` holds the window rows (Trainer.window_rows) of the steps before `start`, as the
  checkpoint kept them. Returns the last step's losses. Raises TrainingError when a loss is
  not finite or jumps, and Interrupted (after saving a checkpoint there) when `stop` is
  requested before the end; `stop_when(step, model)` True ends it early with a checkpoint.
  """
  step = saved = start
  last = {}
  # The last steps' unweighted terms, saved with each checkpoint (Trainer.keep_window).
  recent = collections.deque(recent, maxlen=JUMP_WINDOW)

  def save(number):
    trainer.keep_window(recent)
    trainer.manager.save(checkpoint_number=number)
  if start == 0:
    log.snapshot(0)
  ended = lambda: stop_when is not None and stop_when(step, trainer.model)
  while step < cfg.steps and not stop.requested and not ended():
    chunk = min(_next_boundary(step, cfg.checkpoint_every),
                _next_boundary(step, cfg.summary_every), cfg.steps,
                step + MAX_STEPS_PER_CALL) - step
    t0 = time.perf_counter()
    history = trainer.run_steps(iterator, chunk)
    images_per_sec = chunk * cfg.batch_size / (time.perf_counter() - t0)
    # (per-style terms are NaN in steps that drew no example of their style)
    bad = np.flatnonzero(~np.all(np.isfinite(history[:, :len(trainer.log_terms)]), axis=1))
    if bad.size:
      kept = trainer.manager.latest_checkpoint or "none (no checkpoint yet)"
      raise TrainingError(f"loss became {history[bad[0], 0]} at step {step + bad[0] + 1}; "
                          f"stopped. Last good checkpoint: {kept}")
    jump = _loss_jump(trainer.window_totals(recent) if recent else (), history[:, 0],
                      cfg.max_loss_jump)
    if jump is not None:
      i, ratio = jump
      kept = trainer.manager.latest_checkpoint or "none (no checkpoint yet)"
      raise TrainingError(
          f"loss jumped to {history[i, 0]:.6g} at step {step + i + 1}, {ratio:.3g} times "
          f"the median of the {JUMP_WINDOW} steps before it (--max_loss_jump "
          f"{cfg.max_loss_jump:g}): training blew up; stopped. Last good checkpoint: {kept}. "
          "Resume with --clip_norm or a lower --learning_rate (and --allow_config_change)")
    recent.extend(trainer.window_rows(history))
    last = log.steps(step, history, images_per_sec)
    step += chunk
    if step % cfg.summary_every == 0 or step == cfg.steps:
      log.summary(step, last, images_per_sec)
    if step % cfg.checkpoint_every == 0 or step == cfg.steps:
      save(step)
      saved = step
  if step < cfg.steps and not stop.requested:  # stop_when
    if step != saved:
      save(step)
    return last
  if step < cfg.steps:  # Ctrl-C
    log.interrupted()
    # Workers of a multi-worker run save together; one alone would wait for the others.
    if step != saved and not multi_worker:
      save(step)
    raise Interrupted(step, trainer.manager.latest_checkpoint)
  return last


def _loss_jump(recent, totals, factor):
  """(index, ratio) of the first of `totals` above `factor` times the median of the
  JUMP_WINDOW losses before it, or None. `recent` holds the losses before `totals`; no step
  is judged before the window is full, nor when `factor` is 0."""
  if not factor:
    return None
  window = collections.deque(recent, maxlen=JUMP_WINDOW)
  for i, total in enumerate(totals):
    if len(window) == JUMP_WINDOW:
      median = float(np.median(window))
      if median > 0 and total > factor * median:
        return i, total / median
    window.append(total)
  return None


class _RunLog:
  """Where a run reports, as a context manager.

  Every step's TERMS (and the temporal term when on) go to run_folder.LOSS_LOG
  (losses.csv); at each summary every term (per style layer too, as Magenta logs them, and
  per style of a multi-style network), the learning rate, images/s and the preview images go
  to TensorBoard, and the caller's `on_summary` sees the model; the progress line follows each
  call of the compiled loop.
  """

  def __init__(self, cfg, trainer, write_dir, preview, verbose, on_summary, start):
    self.trainer, self.write_dir, self.preview = trainer, write_dir, preview
    self.on_summary = on_summary
    self.progress = Progress(cfg.steps, label="step", unit="step", start=start) \
        if verbose else None

  def __enter__(self):
    path = os.path.join(self.write_dir, run_folder.LOSS_LOG)
    columns = run_folder.extend_loss_log(path, ("step",) + self.trainer.log_terms)
    # Empty too: a run killed before its first flush leaves the file without its header.
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    self._file = open(path, "a", newline="")
    self._csv = csv.DictWriter(self._file, columns, restval="nan")
    if new:
      self._csv.writeheader()
    self._writer = tf.summary.create_file_writer(self.write_dir)
    return self

  def __exit__(self, *exc):
    self._writer.flush()
    self._file.close()

  def steps(self, step, history, images_per_sec):
    """Logs the losses [n, len(terms)] of steps step+1..step+n; returns the last's as a dict."""
    for i, row in enumerate(history):
      self._csv.writerow(dict(step=step + i + 1, **{
          name: f"{v:.6g}" for name, v in zip(self.trainer.log_terms, row)}))
    self._file.flush()
    last = dict(zip(self.trainer.terms, map(float, history[-1])))
    for i, name in enumerate(self.trainer.terms):
      if name.startswith("per_style/"):  # the mean over this call's steps that drew it
        drawn = history[:, i][np.isfinite(history[:, i])]
        last[name] = float(drawn.mean()) if drawn.size else float("nan")
    if self.progress:
      self.progress.update(step + len(history),
                           **{"loss": last["total"], "img/s": images_per_sec})
    return last

  def summary(self, step, last, images_per_sec):
    with self._writer.as_default(step=step):
      for name, value in last.items():
        # TERMS and temporal under loss/, each style layer's under style/ ("style/relu1_2"),
        # each style's under per_style/.
        if np.isfinite(value):
          tf.summary.scalar(name if "/" in name else f"loss/{name}", value)
      tf.summary.scalar("learning_rate",
                        float(self.trainer.adam.current_learning_rate().numpy()))
      tf.summary.scalar("images_per_sec", images_per_sec)
      if len(self.preview):
        names = self.trainer.style_names
        if names:  # the first preview image in every style, side by side
          shown = [self.preview[:1]] + [self.trainer.stylize(self.preview[:1], k)
                                         for k in range(len(names))]
        else:
          shown = [self.preview, self.trainer.stylize(self.preview)]
        both = tf.concat(shown, axis=2) / 255.0
        tf.summary.image("content_and_stylized", both, max_outputs=len(self.preview))
    self.snapshot(step)

  def snapshot(self, step):
    if self.on_summary:
      self.on_summary(step, self.trainer.model)

  def interrupted(self):
    if self.progress and getattr(self.progress, "_tty", False):
      self.progress.stream.write("\n")  # ends the line redrawn in place
