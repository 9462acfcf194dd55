"""`fastchi add-style`'s work: a user's painting added to the shipped styles in minutes.

`run(AddStyleJob(painting=...))` fine-tunes only the new style's conditional-instance-norm
rows of the collection's network (the shipped one at first), with the loss that network was
trained with (its training_config.json), for `minutes` of training; every other weight, and
so every earlier style's output, stays bit for bit as it was. The result joins the user's
collection (fastchi_tf/light/collection.py), which `fastchi stylize --style NAME` finds.

The run lives in the collection's runs/NAME/ until it is done: Ctrl-C keeps it (a
checkpoint where it stopped) and the same command resumes it. Bad input (an unreadable
painting, a name that is taken, a folder that cannot be written, minutes <= 0) is refused by
`check`, before anything is written, as cli.UsageError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import shutil
import sys
import time
from typing import Callable, Optional

import numpy as np

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import progress
from fastchi_tf import shipped
from fastchi_tf.light import collection as collection_lib
from fastchi_tf.light import image_io
from fastchi_tf.light import io_utils
from fastchi_tf.light import locks
from fastchi_tf.light import model_files
from fastchi_tf.light import styles

STATE_FILE = "add_style.json"  # in runs/NAME: what the run was started from, time trained
BASE_FILE = "base.keras"  # in runs/NAME: the network the run grows (a copy)
MIN_PAINTING_SIDE = 16  # the loss network's four poolings


@dataclasses.dataclass
class AddStyleJob:
  """One run of `fastchi add-style`; the fields are its flags' (and a few for tests)."""
  painting: str
  name: Optional[str] = None  # default: the painting's file stem
  minutes: float = 15.0  # of training, in all (a resumed run trains what is left)
  collection: Optional[str] = None  # default: collection_lib.default_folder()
  photos: Optional[str] = None  # content photos; default: the demo's, which the package has
  # Adam's rate for the new rows: they move by about this much a step, and 15 minutes are a
  # few hundred steps.
  learning_rate: float = 1e-2
  # Crop size; default: half the base network's (its training_config.json), at least 128,
  # with its style image size halved too (the shipped recipe's first stage, 128 px crops and
  # the painting at 256: the same scale of strokes, palettes and strokes learnt fastest, and
  # 3-4x the steps of 256 px in the same minutes).
  image_size: Optional[int] = None
  checkpoint_every: int = 5  # steps (each a few seconds on 2 cores)
  preview_every: float = 60.0  # seconds between preview pictures
  max_steps: Optional[int] = None  # tests: a few steps instead of minutes
  shipped_folder: Optional[str] = None  # default shipped.FOLDER (tests: a tiny network's)
  tflite: bool = True  # also write model_float16.tflite (stylize's default; ~20 s to convert)
  verbose: bool = True  # the progress line on standard error


@dataclasses.dataclass
class AddStyleResult:
  name: str
  folder: str  # the collection
  names: tuple  # the collection network's styles
  steps: int
  minutes: float  # trained in all
  preview: str
  resumed: bool


@dataclasses.dataclass
class _Plan:
  """A checked job: its resolved names and paths."""
  name: str
  folder: str
  run_dir: str
  resume: bool
  shipped_keras: str
  base: str  # the network the style is added to: the collection's, else the shipped one
  base_names: tuple
  painting_sha256: str


def _shipped_folder(job):
  return job.shipped_folder or shipped.FOLDER


def check(job: AddStyleJob) -> _Plan:
  """Everything that can be told before writing: cli.UsageError naming the first problem."""
  if not (isinstance(job.minutes, (int, float)) and math.isfinite(job.minutes)
          and job.minutes > 0):
    raise cli.UsageError(f"--minutes must be a number above 0, got {job.minutes}")
  _check_painting(job.painting)
  name = job.name or styles.style_name(job.painting)
  try:
    collection_lib.check_name(name)
  except ValueError as e:
    raise cli.UsageError(f"{e}{'' if job.name else ' (the painting file name; give --name)'}")
  folder = job.collection or collection_lib.default_folder()
  _check_folder(folder)
  if job.photos is not None:
    _check_photos(job.photos)
  shipped_keras = os.path.join(_shipped_folder(job), shipped.KERAS_FILE)
  if not os.path.isfile(shipped_keras):
    raise cli.Failed(f"the shipped style collection is missing ({shipped_keras}); reinstall "
                     "fastchi-tf")
  shipped_names = model_files.style_names(shipped_keras) or ()
  try:
    found = collection_lib.read(folder)
  except collection_lib.CollectionError as e:
    raise cli.UsageError(e) from None
  if name in shipped_names:
    raise cli.UsageError(f"--name {name} is taken: it is one of the shipped styles "
                         f"({', '.join(shipped_names)}); choose another --name")
  added = found.find(name) if found else None
  if added:
    raise cli.UsageError(f"--name {name} is taken: your collection {folder} has it, added "
                         f"from {added.painting}; choose another --name")
  digest = collection_lib.file_sha256(job.painting)
  run_dir = os.path.join(folder, collection_lib.RUNS, name)
  state = _read_state(run_dir)
  if state and state["painting_sha256"] != digest:
    raise cli.UsageError(f"--name {name} is taken by an unfinished run of another painting "
                         f"({state['painting']}); give that painting to resume it, or "
                         "another --name")
  base = found.model("keras") if found else shipped_keras
  return _Plan(name, folder, run_dir, state is not None, shipped_keras, base,
               tuple(found.names if found else shipped_names), digest)


def _check_painting(path):
  if not os.path.isfile(path):
    raise cli.UsageError(f"painting not found: {path}" if not os.path.exists(path)
                         else f"the painting {path} is a folder; give an image file")
  try:
    image = image_io.read_image(path)
  except Exception as e:  # noqa: BLE001  (whatever Pillow says: the file is not a picture)
    reason = str(e).removeprefix(f"cannot read image {path}: ")
    raise cli.UsageError(f"cannot read the painting {path}: {reason}") from None
  if min(image.shape[:2]) < MIN_PAINTING_SIDE:
    raise cli.UsageError(f"the painting {path} is {image.shape[1]}x{image.shape[0]} pixels; "
                         f"give one of at least {MIN_PAINTING_SIDE} a side")


def _check_folder(folder):
  try:
    if os.path.exists(folder) and not os.path.isdir(folder):
      raise ValueError(f"{folder} is a file, not a folder")
    existing = io_utils.existing_ancestor(folder)
    if not os.path.isdir(existing):
      raise ValueError(f"{existing} is a file, not a folder")
    io_utils.check_writable_folder(existing)
  except ValueError as e:
    raise cli.UsageError(f"cannot write the collection folder {folder}: {e}") from None


def _check_photos(folder):
  if not os.path.isdir(folder):
    raise cli.UsageError(f"--photos {folder} is not a folder")
  for _, _, files in os.walk(folder):
    if any(f.lower().endswith(styles.IMAGE_EXTENSIONS) for f in files):
      return
  raise cli.UsageError(f"--photos {folder} holds no images ({', '.join(styles.IMAGE_EXTENSIONS)})")


def _read_state(run_dir):
  path = os.path.join(run_dir, STATE_FILE)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return json.load(f)


def _write_state(run_dir, state):
  io_utils.write_text(os.path.join(run_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")


def run(job: AddStyleJob, say: Callable[[str], None] = print) -> AddStyleResult:
  """Adds (or resumes adding) the style; holds the collection's folder meanwhile.

  Raises cli.UsageError (nothing written), cli.Failed (another add-style holds the folder),
  and cli.Interrupted on Ctrl-C, the run kept for the same command to resume.
  """
  plan = check(job)
  created = io_utils.prepare_folder(plan.folder)
  with contextlib.ExitStack() as held:
    held.callback(io_utils.remove_empty, created)  # (after the lock's release)
    try:
      held.enter_context(locks.hold(os.path.join(plan.folder, collection_lib.LOCK_FILE)))
    except locks.InUseError as e:
      raise cli.Failed(f"the collection {plan.folder} is in use by another fastchi "
                       f"add-style (pid {e.pid})") from None
    plan = check(job)  # again, held: another add-style may have added the name meanwhile
    return _run_held(job, plan, say)


def _run_held(job, plan, say):
  new = not plan.resume
  try:
    if new:
      _prepare_run(job, plan)
    return _train_and_add(job, plan, say)
  except BaseException:
    if new and not _has_checkpoint(plan.run_dir):  # nothing trained: nothing left behind
      shutil.rmtree(plan.run_dir, ignore_errors=True)
      previews = os.path.join(plan.folder, collection_lib.PREVIEWS)
      with contextlib.suppress(OSError):
        os.remove(os.path.join(previews, f"{plan.name}.png"))
      io_utils.remove_empty([os.path.join(plan.folder, collection_lib.RUNS), previews])
    raise


def _has_checkpoint(run_dir):
  folder = os.path.join(run_dir, "run")
  return os.path.isdir(folder) and any(n.startswith("ckpt-") and n.endswith(".index")
                                       for n in os.listdir(folder))


def _prepare_run(job, plan):
  """runs/NAME: the painting as NAME.png (style names are file stems), a copy of the base
  network, its training settings, and the state."""
  base_cfg = _base_config(job, plan)
  os.makedirs(plan.run_dir)
  image_io.write_image(os.path.join(plan.run_dir, f"{plan.name}.png"),
                       image_io.read_image(job.painting))
  shutil.copyfile(plan.base, os.path.join(plan.run_dir, BASE_FILE))
  _write_state(plan.run_dir, {
      "name": plan.name, "painting": os.path.abspath(job.painting),
      "painting_sha256": plan.painting_sha256, "seconds": 0.0, "steps": 0,
      "photos": os.path.abspath(job.photos) if job.photos else None,
      "base_names": list(plan.base_names),
      "shipped_sha256": collection_lib.file_sha256(plan.shipped_keras),
      "base_config": json.loads(base_cfg.to_json())})


def _base_config(job, plan):
  """The settings the base network was trained with: the collection's, else the shipped."""
  folder = os.path.dirname(plan.base)
  try:
    return shipped.training_config(folder)
  except shipped.MissingError as e:
    raise cli.Failed(e) from None


def _train_config(job, plan, state):
  base = config_lib.TrainConfig.from_dict(state["base_config"])
  photos = state["photos"] or os.path.join(plan.run_dir, "photos")
  size = job.image_size or min(base.data.image_size, max(128, base.data.image_size // 2))
  style_size = base.data.style_size and max(16, base.data.style_size * size
                                            // base.data.image_size)
  return config_lib.replace(
      base, model_dir=os.path.join(plan.run_dir, "run"),
      finetune_from=os.path.join(plan.run_dir, BASE_FILE),
      data=dict(train_data=photos, style_image=os.path.join(plan.run_dir, f"{plan.name}.png"),
                image_size=size, style_size=style_size, style_sha256=None,
                train_data_sha256=None, tfds_data_dir=None),
      steps=config_lib.RANGES["steps"][1], checkpoint_every=job.checkpoint_every,
      summary_every=config_lib.RANGES["summary_every"][1],
      learning_rate=job.learning_rate, warmup_steps=0, clip_norm=0.0,
      strategy="default", devices=None, cpu_devices=1, deterministic=False,
      mixed_precision=False)


def _train_and_add(job, plan, say):
  from fastchi_tf import samples  # pylint: disable=g-import-not-at-top  (TensorFlow below)
  from fastchi_tf import train_lib  # pylint: disable=g-import-not-at-top
  state = _read_state(plan.run_dir)
  cfg = _train_config(job, plan, state)
  if not state["photos"]:
    samples.write_train_photos(cfg.data.train_data)
  budget = job.minutes * 60.0
  preview = os.path.join(plan.folder, collection_lib.PREVIEWS, f"{plan.name}.png")
  clock = _Clock(job, state, budget, preview, say)
  if state["seconds"] < budget and not (job.max_steps and state["steps"] >= job.max_steps):
    if plan.resume:
      say(f"resuming {plan.name}: {state['seconds'] / 60:.1f} of {job.minutes:g} minutes "
          f"trained (step {state['steps']})")
    try:
      result = train_lib.train(cfg, verbose=False, stop_when=clock.stop_when)
    except train_lib.Interrupted as e:
      clock.end_line()
      if e.checkpoint_step is None:
        raise cli.Interrupted("stopped before training began; nothing was kept") from None
      _write_state(plan.run_dir, dict(state, seconds=clock.trained(),
                                      steps=e.checkpoint_step))
      minutes = clock.trained() / 60
      raise cli.Interrupted(
          f"stopped after {minutes:.1f} of {job.minutes:g} minutes (step "
          f"{e.checkpoint_step}); kept in {plan.run_dir}: the same command resumes it, and "
          f"--minutes {math.ceil(minutes * 10) / 10:g} adds the style as it is now") from None
    except (ValueError, train_lib.TrainingError) as e:
      clock.end_line()
      raise cli.Failed(e) from None
    clock.end_line()
    state = dict(state, seconds=clock.trained(), steps=result.step)
    _write_state(plan.run_dir, state)
  say(f"adding {plan.name} to {plan.folder} (step {state['steps']}, "
      f"{state['seconds'] / 60:.1f} minutes trained)")
  names, model = _add_to_collection(plan, state, cfg, job.tflite)
  if not os.path.exists(preview):  # (no training in this call)
    _write_preview(preview, model, -1, say, state["painting"])
  return AddStyleResult(plan.name, plan.folder, names, state["steps"], state["seconds"] / 60,
                        preview, plan.resume)


class _Clock:
  """train_lib's stop_when: the time budget, the progress line and the preview picture."""

  def __init__(self, job, state, budget, preview, say):
    self.job, self.budget, self.preview, self.say = job, budget, preview, say
    self.before = state["seconds"]
    self.painting = state["painting"]
    self.t0 = self.step0 = None
    self.last_preview = -math.inf
    self.stream = sys.stderr
    self._tty = job.verbose and self.stream.isatty()
    self._last_line = -math.inf

  def trained(self):
    return self.before + (time.monotonic() - self.t0 if self.t0 is not None else 0.0)

  def stop_when(self, step, model):
    now = time.monotonic()
    if self.t0 is None:
      self.t0, self.step0 = now, step
    if now - self.last_preview >= self.job.preview_every:
      self.last_preview = now
      _write_preview(self.preview, model, -1, self.say if self.step0 == step else None,
                     self.painting)
    trained = self.trained()
    self._line(step, trained, now)
    return trained >= self.budget or bool(self.job.max_steps and step >= self.job.max_steps)

  def _line(self, step, trained, now):
    if not self.job.verbose or not (self._tty or now - self._last_line >= 30):
      return
    self._last_line = now
    done = min(1.0, trained / self.budget)
    rate = (step - self.step0) / max(now - self.t0, 1e-9)
    line = (f"trained {progress.format_duration(trained)} of "
            f"{progress.format_duration(self.budget)} [{'#' * int(20 * done):.<20}] step "
            f"{step}, {rate:.2f} steps/s, ETA {progress.format_duration(self.budget - trained)}")
    self.stream.write(("\r" if self._tty else "") + line + ("" if self._tty else "\n"))
    self.stream.flush()

  def end_line(self):
    if self._tty and self._last_line > -math.inf:
      self.stream.write("\n")


def _preview_photo():
  from fastchi_tf import samples  # pylint: disable=g-import-not-at-top
  return samples.read_photo(samples.HELD_OUT_PHOTO, 256)


def _write_preview(path, model, index, say, painting):
  """[the photo | the painting | the photo in the style] into `path`, atomically."""
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  photo = _preview_photo()
  names = render_net.style_names(model)
  weights = np.eye(len(names), dtype=np.float32)[index][None]
  out = model([photo[None].astype(np.float32), weights], training=False)[0].numpy()
  out = np.clip(np.round(out), 0, 255).astype(np.uint8)
  art = Image.fromarray(image_io.read_image(painting))
  art.thumbnail((photo.shape[1], photo.shape[0]))
  panel = np.full_like(photo, 255)
  art = np.asarray(art.convert("RGB"))
  panel[:art.shape[0], :art.shape[1]] = art
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image_io.write_image(path, np.concatenate([photo, panel, out], axis=1))
  if say:
    say(f"preview (rewritten about every minute): {path}")


def _load_run_model(cfg):
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top
  return export.restore_render_net(cfg.model_dir)


def grow(current, trained, name: str, render: config_lib.RenderConfig):
  """`current` (the collection's network, or the shipped one) with `trained`'s style `name`
  (its last) appended, both networks of the architecture `render` describes: a network
  whose other weights, and the earlier styles' rows, are `current`'s exactly (a `name`
  already in `current`, from an add-style cut short, is replaced). ValueError if `trained`
  grew from another network."""
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  old_names = render_net.style_names(current)
  kept = [i for i, n in enumerate(old_names) if n != name]
  names = tuple(old_names[i] for i in kept) + (name,)
  model = render_net.build_render_net(**dict(dataclasses.asdict(render), styles=names))
  trained_count = len(render_net.style_names(trained))
  for layer in model.layers:
    if not layer.weights:
      continue
    ours = current.get_layer(layer.name).get_weights()
    theirs = trained.get_layer(layer.name).get_weights()
    if isinstance(layer, layers.InstanceNorm):  # gamma and beta [styles, channels]
      layer.set_weights([np.concatenate([a[kept], b[trained_count - 1:]])
                         for a, b in zip(ours, theirs)])
      continue
    if not all(np.array_equal(a, b) for a, b in zip(ours, theirs)):
      raise ValueError(f"the collection's network is not the one the run of {name} grew from "
                       f"(layer {layer.name} differs); add the style under another --name")
    layer.set_weights(ours)
  return model


def _add_to_collection(plan, state, cfg, tflite=True):
  """Writes the grown network, its settings and collection.json; removes the run. Returns
  the collection network's styles and the network."""
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  trained = _load_run_model(cfg)
  current = layers.load_model(plan.base)
  try:
    model = grow(current, trained, plan.name, cfg.render)
  except ValueError as e:
    raise cli.Failed(e) from None
  names = render_net.style_names(model)
  folder = plan.folder
  lite = os.path.join(folder, collection_lib.TFLITE_FILE)
  if tflite:
    with io_utils.atomic_path(lite) as tmp:
      with open(tmp, "wb") as f:
        f.write(export.tflite_bytes(model, "float16"))
  elif os.path.exists(lite):  # (an earlier network's: it would lack the new style)
    os.remove(lite)
  export.export_keras(model, os.path.join(folder, collection_lib.KERAS_FILE))
  base_cfg = config_lib.TrainConfig.from_dict(state["base_config"])
  io_utils.write_text(os.path.join(folder, collection_lib.TRAINING_CONFIG_FILE),
                      config_lib.replace(base_cfg, render=dict(styles=names)).to_json() + "\n")
  found = collection_lib.read(folder) or collection_lib.Collection(
      folder, (), [], state["shipped_sha256"])
  added = [a for a in found.added if a.name != plan.name] + [collection_lib.Added(
      plan.name, state["painting"], state["painting_sha256"], round(state["seconds"] / 60, 2),
      state["steps"], datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"))]
  collection_lib.write(dataclasses.replace(found, names=names, added=added))
  shutil.rmtree(plan.run_dir, ignore_errors=True)
  io_utils.remove_empty([os.path.join(folder, collection_lib.RUNS)])
  return names, model
