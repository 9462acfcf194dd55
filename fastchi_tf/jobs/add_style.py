"""`fastchi add-style`'s work: a user's painting added to the shipped styles in minutes.

`run(AddStyleJob(painting=...))` fine-tunes only the new style's conditional-instance-norm
rows of the collection's network (the shipped one at first), with the loss that network was
trained with (its training_config.json), for `minutes` of training; every other weight, and
so every earlier style's output, stays bit for bit as it was. The result joins the user's
collection (fastchi_tf/light/collection.py), which `fastchi stylize --style NAME` finds.

The run lives in the collection's runs/NAME/ until it is done, with a copy of the painting
(so the painting may move meanwhile) and its state (add_style.json), written at each
checkpoint: Ctrl-C (a checkpoint where it stopped) or a kill (the last checkpoint) keeps it,
and the same command resumes it. The final save writes the collection's new files into a
folder of their own and renames them in, Ctrl-C held meanwhile (`_commit`): a Ctrl-C leaves
the old collection or the new, and a kill mid-way is finished by the next add-style. Bad
input (an unreadable painting, a name that is taken, a folder that cannot be written,
minutes <= 0) is refused by `check`, before anything is written, as cli.UsageError.
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
import tempfile
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
# In the collection: a final save's files, all written, being renamed into place (_commit).
COMMIT_FOLDER = ".commit"
COMMIT_MANIFEST = "commit.json"  # in it: what to rename in, remove, and the run to remove
STATE_KEYS = ("name", "painting", "painting_sha256", "seconds", "steps", "photos",
              "base_names", "shipped_sha256", "base_config")
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
  painting_gone: bool = False  # resumed from the run's copy: the painting moved
  committed: bool = False  # set once the final save is in place


def _shipped_folder(job):
  return job.shipped_folder or shipped.FOLDER


def check(job: AddStyleJob) -> _Plan:
  """Everything that can be told before writing: cli.UsageError naming the first problem."""
  if not (isinstance(job.minutes, (int, float)) and math.isfinite(job.minutes)
          and job.minutes > 0):
    raise cli.UsageError(f"--minutes must be a number above 0, got {job.minutes}")
  name = job.name or styles.style_name(job.painting)
  try:
    collection_lib.check_name(name)
  except ValueError as e:
    raise cli.UsageError(f"{e}{'' if job.name else ' (the painting file name; give --name)'}")
  try:
    folder = job.collection or collection_lib.default_folder()
  except collection_lib.CollectionError as e:
    raise cli.UsageError(e) from None
  run_dir = os.path.join(folder, collection_lib.RUNS, name)
  state = _read_state(run_dir, name)
  digest, gone = _check_painting_of(job.painting, state, run_dir, name)
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
  base = found.model("keras") if found else shipped_keras
  return _Plan(name, folder, run_dir, state is not None, shipped_keras, base,
               tuple(found.names if found else shipped_names), digest, gone)


def _check_painting_of(painting, state, run_dir, name):
  """(the painting's digest, whether it is gone and the run's copy stands in for it).

  A run resumes from its copy of the painting: the painting may have moved since (given by
  its old path) or be given at its new one."""
  if (state and not os.path.exists(painting)
      and os.path.abspath(painting) == state["painting"]):
    if not os.path.isfile(_copy_of(run_dir, name)):
      raise cli.UsageError(f"painting not found: {painting} (and the run {run_dir} has lost "
                           "its copy)")
    return state["painting_sha256"], True
  _check_painting(painting)
  digest = collection_lib.file_sha256(painting)
  if state and digest not in (state["painting_sha256"], state.get("copy_sha256")):
    raise cli.UsageError(f"--name {name} is taken by an unfinished run of another painting "
                         f"({state['painting']}); give that painting to resume it, or "
                         "another --name")
  return (state["painting_sha256"] if state else digest), False


def _copy_of(run_dir, name):
  """The run's copy of the painting (a style's name is its image's file stem)."""
  return os.path.join(run_dir, f"{name}.png")


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


def _read_state(run_dir, name):
  """The run's state; None when there is no run, or only a start killed before it trained
  (a new run replaces it). cli.UsageError for a run with checkpoints but no readable state."""
  if not os.path.lexists(run_dir):
    return None
  try:
    with open(os.path.join(run_dir, STATE_FILE)) as f:
      state = json.load(f)
    if not isinstance(state, dict) or not all(k in state for k in STATE_KEYS):
      raise ValueError("incomplete")
    return state
  except (OSError, ValueError):
    if not _has_checkpoint(run_dir):
      return None
  raise cli.UsageError(f"{run_dir} holds an unfinished run whose {STATE_FILE} is missing or "
                       f"damaged; remove that folder to add {name} afresh, or give another "
                       "--name")


def _write_state(run_dir, state):
  io_utils.write_text(os.path.join(run_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")


def format_minutes(seconds: float) -> str:
  """`seconds` in minutes, rounded down (to 0.1, or finer below it): given as --minutes, it
  asks for no more training than was done (so the style is added as it is)."""
  minutes = seconds / 60
  for places in range(1, 7):
    units = math.floor(minutes * 10**places)
    while units > 0:
      text = f"{units / 10**places:.{places}f}".rstrip("0").rstrip(".")
      if float(text) * 60 <= seconds:  # (as the job compares them: float rounding)
        return text
      units -= 1
  return "0"


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
    _recover(plan.folder)
    plan = check(job)  # again, held: another add-style may have added the name meanwhile
    return _run_held(job, plan, say)


def _run_held(job, plan, say):
  new = not plan.resume
  try:
    if new:
      _prepare_run(job, plan)
    return _train_and_add(job, plan, say)
  except BaseException:
    if new and not plan.committed and not _has_checkpoint(plan.run_dir):
      # Nothing trained: nothing left behind.
      shutil.rmtree(plan.run_dir, ignore_errors=True)
      previews = os.path.join(plan.folder, collection_lib.PREVIEWS)
      with contextlib.suppress(OSError):
        os.remove(os.path.join(previews, f"{plan.name}.png"))
      io_utils.remove_empty([os.path.join(plan.folder, collection_lib.RUNS), previews])
    raise


def _has_checkpoint(run_dir):
  folder = os.path.join(run_dir, "run")
  try:
    return any(n.startswith("ckpt-") and n.endswith(".index") for n in os.listdir(folder))
  except OSError:  # (none there, or a folder that cannot be read: nothing to keep)
    return False


def _prepare_run(job, plan):
  """runs/NAME: the painting as NAME.png (style names are file stems), a copy of the base
  network, its training settings, and the state; written in a temporary folder and renamed,
  so that a kill leaves no run without its state."""
  base_cfg = _base_config(job, plan)
  runs = os.path.dirname(plan.run_dir)
  os.makedirs(runs, exist_ok=True)
  if os.path.lexists(plan.run_dir):  # a start killed before it trained (check said so)
    _remove(plan.run_dir)
  tmp = tempfile.mkdtemp(prefix=f".{plan.name}.", suffix=".tmp", dir=runs)
  try:
    copy = _copy_of(tmp, plan.name)
    image_io.write_image(copy, image_io.read_image(job.painting))
    shutil.copyfile(plan.base, os.path.join(tmp, BASE_FILE))
    _write_state(tmp, {
        "name": plan.name, "painting": os.path.abspath(job.painting),
        "painting_sha256": plan.painting_sha256,
        "copy_sha256": collection_lib.file_sha256(copy), "seconds": 0.0, "steps": 0,
        "photos": os.path.abspath(job.photos) if job.photos else None,
        "base_names": list(plan.base_names),
        "shipped_sha256": collection_lib.file_sha256(plan.shipped_keras),
        "base_config": json.loads(base_cfg.to_json())})
    os.chmod(tmp, 0o777 & ~io_utils.UMASK)  # (mkdtemp makes 0700)
    os.rename(tmp, plan.run_dir)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _remove(path):
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  else:
    os.remove(path)


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
  state = _read_state(plan.run_dir, plan.name)
  cfg = _train_config(job, plan, state)
  if not state["photos"]:
    samples.write_train_photos(cfg.data.train_data)
  budget = job.minutes * 60.0
  preview = os.path.join(plan.folder, collection_lib.PREVIEWS, f"{plan.name}.png")
  painting = _copy_of(plan.run_dir, plan.name)
  if plan.painting_gone:
    say(f"{state['painting']} is gone; the run's copy of it goes on: {painting}")
  clock = _Clock(job, plan.run_dir, state, budget, preview, painting, say)
  if state["seconds"] < budget and not (job.max_steps and state["steps"] >= job.max_steps):
    if plan.resume:
      say(f"resuming {plan.name}: {format_minutes(state['seconds'])} of {job.minutes:g} "
          f"minutes trained (step {state['steps']})")
    try:
      result = train_lib.train(cfg, verbose=False, stop_when=clock.stop_when)
    except train_lib.Interrupted as e:
      clock.end_line()
      if e.checkpoint_step is None:
        raise cli.Interrupted("stopped before training began; nothing was kept") from None
      seconds = clock.trained()
      _write_state(plan.run_dir, dict(state, seconds=seconds, steps=e.checkpoint_step))
      # Rounded down: --minutes at most what was trained adds the style without training.
      done = format_minutes(seconds)
      raise cli.Interrupted(
          f"stopped after {done} of {job.minutes:g} minutes (step {e.checkpoint_step}); kept "
          f"in {plan.run_dir}: the same command resumes it, and --minutes {done} adds the "
          "style as it is now") from None
    except train_lib.TrainingError as e:
      clock.end_line()
      raise cli.Failed(_blew_up(e, plan, clock.state)) from None
    except ValueError as e:
      clock.end_line()
      raise cli.Failed(e) from None
    clock.end_line()
    state = dict(clock.state, seconds=clock.trained(), steps=result.step)
    _write_state(plan.run_dir, state)
  say(f"adding {plan.name} to {plan.folder} (step {state['steps']}, "
      f"{format_minutes(state['seconds'])} minutes trained)")
  try:
    names = _add_to_collection(plan, state, cfg, job.tflite, preview, say)
  except KeyboardInterrupt:
    raise cli.Interrupted(f"stopped while adding {plan.name}: the collection {plan.folder} is "
                          f"as it was, and the run is kept in {plan.run_dir}; the same "
                          "command adds it") from None
  return AddStyleResult(plan.name, plan.folder, names, state["steps"], state["seconds"] / 60,
                        preview, plan.resume)


def _blew_up(error, plan, state):
  """A training blow-up in one line, with add-style's own options (train's --clip_norm and
  the like are not add-style's)."""
  what = str(error).split(" (--max_loss_jump")[0].split("; stopped")[0]
  if not _has_checkpoint(plan.run_dir) or not state["steps"]:
    return (f"training blew up ({what}) before its first checkpoint; nothing was kept: try "
            "again, or with other --photos")
  done = format_minutes(state["seconds"])
  return (f"training blew up ({what}); its last good checkpoint (step {state['steps']}, "
          f"{done} minutes) is kept in {plan.run_dir}: the same command with --minutes "
          f"{done} adds the style as it was there, or remove that folder (or give another "
          "--name) to start again")


class _Clock:
  """train_lib's stop_when: the time budget, the progress line, the preview picture, and
  the run's state at each checkpoint (so that a kill loses no more than a checkpoint's
  steps and time)."""

  def __init__(self, job, run_dir, state, budget, preview, painting, say):
    self.job, self.budget, self.preview, self.say = job, budget, preview, say
    self.run_dir, self.state = run_dir, state
    self.before = state["seconds"]
    self.painting = painting
    self.t0 = self.step0 = None
    self.last_preview = -math.inf
    self.stream = sys.stderr
    self._tty = job.verbose and self.stream.isatty()
    self._last_line = -math.inf

  def trained(self, now=None):
    if self.t0 is None:
      return self.before
    return self.before + ((time.monotonic() if now is None else now) - self.t0)

  def stop_when(self, step, model):
    now = time.monotonic()
    if self.t0 is None:
      self.t0, self.step0 = now, step
    trained = self.trained(now)
    if step > self.state["steps"] and os.path.exists(
        os.path.join(self.run_dir, "run", f"ckpt-{step}.index")):  # just saved
      self.state = dict(self.state, seconds=trained, steps=step)
      _write_state(self.run_dir, self.state)
    if now - self.last_preview >= self.job.preview_every:
      self.last_preview = now
      _write_preview(self.preview, model, -1, self.say if self.step0 == step else None,
                     self.painting)
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
    if isinstance(layer, layers.StyleAffine):  # gamma and beta [styles, channels]
      layer.set_weights([np.concatenate([a[kept], b[trained_count - 1:]])
                         for a, b in zip(ours, theirs)])
      continue
    if not all(np.array_equal(a, b) for a, b in zip(ours, theirs)):
      raise ValueError(f"the collection's network is not the one the run of {name} grew from "
                       f"(layer {layer.name} differs); add the style under another --name")
    layer.set_weights(ours)
  return model


def _add_to_collection(plan, state, cfg, tflite, preview, say):
  """Adds the trained style to the collection: the grown network, its settings and
  collection.json written into a temporary folder, then renamed into place with the run
  removed (_commit). Returns the collection network's styles."""
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
  if not os.path.exists(preview):  # (no training in this call)
    _write_preview(preview, model, -1, say, _copy_of(plan.run_dir, plan.name))
  staging = tempfile.mkdtemp(prefix=f"{COMMIT_FOLDER}-", suffix=".tmp", dir=folder)
  try:
    files = [collection_lib.KERAS_FILE, collection_lib.TRAINING_CONFIG_FILE,
             collection_lib.INDEX_FILE]  # collection.json last: it tells what the rest is
    if tflite:
      files.insert(0, collection_lib.TFLITE_FILE)
      with open(os.path.join(staging, collection_lib.TFLITE_FILE), "wb") as f:
        f.write(export.tflite_bytes(model, "float16"))
    export.export_keras(model, os.path.join(staging, collection_lib.KERAS_FILE))
    base_cfg = config_lib.TrainConfig.from_dict(state["base_config"])
    io_utils.write_text(os.path.join(staging, collection_lib.TRAINING_CONFIG_FILE),
                        config_lib.replace(base_cfg, render=dict(styles=names)).to_json()
                        + "\n")
    found = collection_lib.read(folder) or collection_lib.Collection(
        folder, (), [], state["shipped_sha256"])
    added = [a for a in found.added if a.name != plan.name] + [collection_lib.Added(
        plan.name, state["painting"], state["painting_sha256"],
        round(state["seconds"] / 60, 2), state["steps"],
        datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))]
    io_utils.write_text(os.path.join(staging, collection_lib.INDEX_FILE), dataclasses.replace(
        found, names=names, added=added).to_json() + "\n")
    for name in files:  # (mkstemp's 0600 is the temporary folder's, not the collection's)
      os.chmod(os.path.join(staging, name), 0o666 & ~io_utils.UMASK)
    # (an earlier network's TFLite file would lack the new style)
    io_utils.write_text(os.path.join(staging, COMMIT_MANIFEST), json.dumps({
        "files": files, "remove": [] if tflite else [collection_lib.TFLITE_FILE],
        "run": os.path.relpath(plan.run_dir, folder)}) + "\n")
    _commit(plan, staging)
  finally:
    shutil.rmtree(staging, ignore_errors=True)  # (gone once committed)
  return names


def _commit(plan, staging):
  """Renames the staged save in: the folder first (from then on the save is done: a kill
  is finished by the next add-style's _recover), then each file, then the run out of the
  way. Ctrl-C waits for it, and is then cli.Interrupted saying the style was added."""
  from fastchi_tf import run_folder  # pylint: disable=g-import-not-at-top
  committed = os.path.join(plan.folder, COMMIT_FOLDER)
  with run_folder.StopRequest() as stop:
    os.rename(staging, committed)
    plan.committed = True
    _finish_commit(plan.folder)
  try:
    if stop.requested:
      raise KeyboardInterrupt
    shutil.rmtree(committed, ignore_errors=True)  # (the run, moved there)
    io_utils.remove_empty([os.path.join(plan.folder, collection_lib.RUNS)])
  except KeyboardInterrupt:
    raise cli.Interrupted(f"stopped, once {plan.name} was added to {plan.folder} (the next "
                          "add-style tidies up)") from None


def _finish_commit(folder):
  """Renames a committed save's files into `folder` and moves its run into it; again, it
  goes on from where a kill stopped it."""
  committed = os.path.join(folder, COMMIT_FOLDER)
  manifest = os.path.join(committed, COMMIT_MANIFEST)
  if not os.path.isfile(manifest):  # (done: only the removal was cut short)
    return
  with open(manifest) as f:
    todo = json.load(f)
  for name in todo["files"]:
    if os.path.exists(os.path.join(committed, name)):
      os.replace(os.path.join(committed, name), os.path.join(folder, name))
  for name in todo["remove"]:
    with contextlib.suppress(FileNotFoundError):
      os.remove(os.path.join(folder, name))
  run_dir = os.path.join(folder, todo["run"])
  if os.path.lexists(run_dir):
    os.rename(run_dir, os.path.join(committed, "run"))
  os.remove(manifest)


def _recover(folder):
  """What a killed add-style left in the collection `folder` (held): a committed save is
  finished, unfinished temporary folders are removed."""
  committed = os.path.join(folder, COMMIT_FOLDER)
  if os.path.isdir(committed):
    _finish_commit(folder)
    shutil.rmtree(committed, ignore_errors=True)
  runs = os.path.join(folder, collection_lib.RUNS)
  for parent, prefix in ((folder, f"{COMMIT_FOLDER}-"), (runs, ".")):
    if os.path.isdir(parent):
      for name in os.listdir(parent):
        if name.startswith(prefix) and name.endswith(".tmp"):
          shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
  io_utils.remove_empty([runs])
