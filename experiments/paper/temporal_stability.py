r"""Temporal stability: the temporal term's weight against flicker, style and content.

One style is trained at temporal weight 0 for `pretrain_steps`, and that network then goes on
for `steps` more at each weight of a sweep, 0 among them (same steps, data order and seed).
For each network: the warping error (fastchi_tf/flicker.py) on
synthetic clips with exact flow (a pan and a slow zoom over a held-out photo), on the real
clips of ../shared/data/video/ (optical flow on the input frames; scene cuts skipped) and on
the clip `make demo` generates; the style and content losses of the training objective on
held-out photos; and frames/s. The naive fix is the baseline: an exponential blend of
consecutive output frames of the unregularized network, at the strength that reaches the
chosen weight's warping error, with the content loss of its frames against the source
frames (how much it smears) and their style term (averaged frames average their textures
away). Writes to experiments/results/temporal_stability/: results.json,
report.md, tradeoff.png (warping error against style loss), frames.png (consecutive frames
and their differences at weight 0 and the chosen weight).

Data: the painting, the training photos (BSDS500 train/ and val/), the held-out photos
(BSDS500 test/) and the real clips come from ../shared/data when it is there (say so in the
report); without it, scikit-image's photos and style stand in and only the synthetic and
demo clips are measured.

Commands and run times on 2 CPU cores:
  python -m experiments.paper.temporal_stability --quick   # ~2 h: inception w16, 128 px,
      # batch 2, 1500 steps at weight 0 then 500 per weight and seed, 5 weights, 3 seeds,
      # clips cut to 48 frames at most 640 px
  python -m experiments.paper.temporal_stability           # w16, 256 px, batch 4, 4000 steps
      # then 2000 per weight, 6 weights, whole clips: ~12 h on 2 CPU cores
  ... --notrain --work_dir DIR    # measure again the networks a run left in DIR (~10 min)
"""

import copy
import dataclasses
import os
import shutil
import time
from typing import Optional

import numpy as np
from PIL import Image

from experiments.lib import reporting
from experiments.lib import runner
from experiments.lib import training
from fastchi_tf import export
from fastchi_tf import flicker
from fastchi_tf import losses
from fastchi_tf import plots
from fastchi_tf import resume_checks
from fastchi_tf import run_folder
from fastchi_tf import samples
from fastchi_tf import stylize
from fastchi_tf import train_lib
from fastchi_tf import video_io

# ../shared/data beside the repository (this file is <repo>/experiments/...).
SHARED = training.SHARED
REAL_CLIPS = ("carphone_pristine.mp4", "bigbuckbunny.mp4", "scene_cuts.mp4")
DEMO_CLIP = ("chelsea.png", 320, 180, 60)  # tools/demo.py's clip: photo, size, frames


@dataclasses.dataclass(frozen=True)
class Config:
  weights: tuple = (0.0, 3e3, 1e4, 3e4, 1e5, 3e5)  # temporal weights; 0 first
  width: int = 16
  image_size: int = 256
  batch_size: int = 4
  # Steps at weight 0 that every weight starts from, then `steps` more at its own weight:
  # the shipped recipe's order (styles learnt first, then steadied). Trained from scratch
  # with the temporal term on (pretrain_steps 0), 300 steps at 128 px with raw Gram terms
  # cut flicker 2-3x only at a 70% higher style loss: the term held back the style that
  # the network had not learnt yet.
  pretrain_steps: int = 4000
  steps: int = runner.flag(2000, "Fine-tuning steps per weight and seed (a run of the same "
                           "settings stopped short of them goes on from its last step).")
  sweep: Optional[str] = runner.flag(
      None, "Comma list of temporal weights to train and measure instead of `weights` "
      "(0 first), e.g. 0,30000.")
  # The shipped recipe's loss (experiments/shipped/styles.py): each style layer's term relative,
  # and a tanh head.
  style_weight: float = 300.0
  style_layer_norm: str = "target"
  output_activation: str = "tanh"
  style: str = "starry_night.jpg"  # in ../shared/data/styles (else scikit-image's ihc.png)
  style_size: int = 512
  # Held-out photos for the losses: with 8, the style terms of neighbouring weights were
  # out of order by up to 10%, the margin the goal allows.
  eval_photos: int = 100
  eval_size: int = 256
  max_frames: Optional[int] = None  # per clip
  clip_max_side: Optional[int] = None  # clips are downscaled to this first
  seed: int = 0
  # Fine-tuning runs per weight, seeds seed, seed + 1, ... (their data order and temporal
  # flows): with one, weight 0's own control and weight 3000 differed by 8% in style loss,
  # most of the goal's 10% margin; with two, seeds of one weight differed by up to 30%.
  # Losses and warping errors are the runs' means.
  seeds: int = 1
  work_dir: Optional[str] = runner.flag(
      None, "Scratch folder for the training runs (default: a temp folder).")
  train: bool = runner.flag(True, "Train the networks (--notrain: measure the ones an earlier "
                            "run of the same settings left in --work_dir).")


FULL = Config()
QUICK = Config(weights=(0.0, 3e3, 1e4, 3e4, 1e5), image_size=128, batch_size=2,
               pretrain_steps=1500, steps=500, style_size=256, eval_photos=40, max_frames=48,
               clip_max_side=640, seeds=3)


def _shared(*parts):
  path = os.path.join(SHARED, *parts)
  return path if os.path.exists(path) else None


def _train_config(cfg, weight, model_dir, train_data, style_image, steps, seed=0):
  return training.derive(
      model_dir=model_dir, render=dict(variant="inception", width=cfg.width, shrink=2,
                                       output_activation=cfg.output_activation),
      data=dict(train_data=train_data, image_size=cfg.image_size, style_image=style_image,
                style_size=cfg.style_size),
      loss=dict(style_weight=cfg.style_weight, style_layer_norm=cfg.style_layer_norm),
      temporal=dict(weight=weight), batch_size=cfg.batch_size, steps=steps,
      checkpoint_every=steps, summary_every=min(100, steps), seed=cfg.seed + seed)


def _run_name(weight, seed):
  return f"w{weight:g}" + (f"_s{seed}" if seed else "")


def _train(cfg, weight, work, train_data, style_image, seed=0):
  """Trains one weight's network (from work/pretrain, the shared weight-0 start, when there is
  one) with seed cfg.seed + seed; returns (its config, the loss log of its own steps)."""
  model_dir = os.path.join(work, _run_name(weight, seed))
  total = cfg.pretrain_steps + cfg.steps
  tcfg = _train_config(cfg, weight, model_dir, train_data, style_image, total, seed)
  if not cfg.train:
    if not os.path.exists(os.path.join(model_dir, f"ckpt-{total}.index")):
      raise ValueError(f"--notrain: {model_dir} holds no network trained to step {total}")
    log = plots.read_loss_log(os.path.join(model_dir, run_folder.LOSS_LOG))
  elif _trained(tcfg):
    log = plots.read_loss_log(os.path.join(model_dir, run_folder.LOSS_LOG))
  elif _stopped_short(tcfg, cfg.pretrain_steps):  # a shorter fine-tune of this weight
    train_lib.train(tcfg, on_summary=None)  # (resuming is bit-exact: as if never stopped)
    log = plots.read_loss_log(os.path.join(model_dir, run_folder.LOSS_LOG))
  elif not cfg.pretrain_steps:
    return tcfg, training.train_afresh(tcfg, on_summary=None)
  else:
    if os.path.exists(model_dir):
      shutil.rmtree(model_dir)
    shutil.copytree(os.path.join(work, "pretrain"), model_dir)
    train_lib.train(tcfg, on_summary=None, allow_config_change=weight != 0 or seed != 0)
    log = plots.read_loss_log(os.path.join(model_dir, run_folder.LOSS_LOG))
  own = log["step"] > cfg.pretrain_steps
  return tcfg, {k: v[own] for k, v in log.items()}


def _last_step(model_dir):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  latest = tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None
  return int(latest.rsplit("-", 1)[1]) if latest else 0


def _stopped_short(tcfg, pretrain_steps):
  """Whether tcfg.model_dir holds a run of tcfg's settings past the shared start but short of
  tcfg.steps (a sweep run again with more steps goes on from there)."""
  return pretrain_steps < _last_step(tcfg.model_dir) < tcfg.steps and _same_settings(tcfg)


def weights(cfg):
  """The temporal weights the run trains and measures: --sweep's, else cfg.weights."""
  if not cfg.sweep:
    return tuple(cfg.weights)
  try:
    found = tuple(float(w) for w in cfg.sweep.split(","))
  except ValueError:
    found = ()
  if not found or found[0] != 0 or sorted(found) != list(found):
    raise ValueError(f"--sweep {cfg.sweep}: weights in increasing order, 0 first")
  return found


def _trained(tcfg):
  """Whether tcfg.model_dir holds a finished run of exactly tcfg's settings (an interrupted
  sweep goes on from there; anything else is trained again)."""
  return (os.path.exists(os.path.join(tcfg.model_dir, f"ckpt-{tcfg.steps}.index"))
          and _same_settings(tcfg))


def _same_settings(tcfg):
  """Whether tcfg.model_dir's run has tcfg's settings (steps and the like aside), its
  photos and style image compared by content as training does: a work folder moved or
  copied elsewhere is not trained again."""
  from fastchi_tf import config as config_lib  # pylint: disable=g-import-not-at-top
  from fastchi_tf import data  # pylint: disable=g-import-not-at-top
  saved = config_lib.TrainConfig.of_run(tcfg.model_dir)
  folder, style = tcfg.data.train_data, tcfg.data.style_image
  tcfg = config_lib.replace(tcfg, data=dict(
      train_data_sha256=data.files_sha256(folder, data.list_images(folder)),
      style_sha256=data.file_sha256(style)))
  try:
    return saved is not None and not resume_checks.check_resumable(saved, tcfg)
  except ValueError:
    return False


def _photos(cfg):
  """Held-out photos, uint8 [n, s, s, 3] centre crops."""
  folder = _shared("photos", "bsds500", "test")
  if folder:
    names = sorted(os.listdir(folder))[:cfg.eval_photos]
    images = [Image.open(os.path.join(folder, n)).convert("RGB") for n in names]
  else:
    images = [Image.fromarray(samples.read_photo(n)) for n in ("coffee.png", "chelsea.png")]
  out = []
  for image in images:
    side = min(image.size)
    left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
    out.append(np.asarray(image.crop((left, top, left + side, top + side)).resize(
        (cfg.eval_size, cfg.eval_size), Image.LANCZOS)))
  return np.stack(out)


def _objective(trainer, model, photos):
  """Mean content and style terms of the training objective on `photos` (one at a time)."""
  content, style = [], []
  for photo in photos:
    x = photo[None].astype(np.float32)
    out = model(x, training=False)
    features = trainer.loss_net(np.concatenate([np.asarray(out), x], 0))
    generated = {k: v[:1] for k, v in features.items()}
    target = {k: features[k][1:] for k in trainer.loss_net.content_layers}
    _, terms = losses.perceptual_loss(generated, target, trainer.style_grams, out,
                                      trainer.loss_net.content_layers,
                                      **dataclasses.asdict(trainer.cfg.loss))
    content.append(float(terms["content"][0]))
    style.append(float(terms["style"][0]))
  return float(np.mean(content)), float(np.mean(style))


def _clips(cfg):
  """{name: list of uint8 frames} of the clips measured."""
  clips = {}
  photo = samples.read_photo("coffee.png")
  for kind in ("pan", "zoom"):
    frames, flows = flicker.synthetic_clip(photo, kind, 24, 256, 192)
    clips[f"synthetic {kind}"] = (frames, flows)
  name, w, h, n = DEMO_CLIP
  clips["demo clip"] = (list(samples.pan_frames(samples.read_photo(name), w, h, n)), None)
  for clip in REAL_CLIPS:
    path = _shared("video", clip)
    if path:
      frames = list(video_io.read_frames(video_io.probe(path), cfg.max_frames))
      frames = [stylize.downscale(f, cfg.clip_max_side) for f in frames]
      clips[clip] = (frames, None)
  return clips


def _render(model, frames):
  stylizer = stylize.KerasStylizer("trained", model)
  return [stylize.stylize_image(stylizer, f) for f in frames]


def _flicker(outputs, frames, flows):
  if flows is not None:  # exact flow: the input's own error is resampling alone
    return (flicker.warping_error(outputs, flows=flows).error,
            flicker.warping_error(frames, flows=flows).error)
  source, output = flicker.clip_errors(frames, outputs)
  return output.error, source.error


def _blend(outputs, strength):
  """The naive fix: o'_t = strength * o'_t-1 + (1 - strength) * o_t."""
  blended, previous = [], None
  for out in outputs:
    current = out.astype(np.float32) if previous is None else (
        strength * previous + (1 - strength) * out.astype(np.float32))
    blended.append(np.clip(np.round(current), 0, 255).astype(np.uint8))
    previous = current
  return blended


def _terms_against_source(trainer, outputs, frames):
  """Mean content term of stylized frames against their source frames, and their mean
  style term (against the style image): every 4th frame."""
  content, style = [], []
  for out, frame in zip(outputs[::4], frames[::4]):
    x = np.stack([out, frame]).astype(np.float32)
    features = trainer.loss_net(x)
    generated = {k: v[:1] for k, v in features.items()}
    target = {k: features[k][1:] for k in trainer.loss_net.content_layers}
    _, terms = losses.perceptual_loss(generated, target, trainer.style_grams, x[:1],
                                      trainer.loss_net.content_layers,
                                      **dataclasses.asdict(trainer.cfg.loss))
    content.append(float(terms["content"][0]))
    style.append(float(terms["style"][0]))
  return float(np.mean(content)), float(np.mean(style))


def run(cfg, out_dir):
  work = training.scratch_dir("temporal_stability", cfg.work_dir)
  style_image = _shared("styles", cfg.style) or samples.skimage_path(samples.STYLE_IMAGE)
  train_data = (_shared("photos", "bsds500") and os.path.join(work, "train_photos"))
  if train_data:  # copies of train/ and val/ only: test/ is held out
    for part in ("train", "val"):
      folder = os.path.join(train_data, part)
      if not os.path.isdir(folder):
        shutil.copytree(_shared("photos", "bsds500", part), folder)
  else:
    train_data = training.offline_photos(os.path.join(work, "train_photos"))
  photos, clips = _photos(cfg), _clips(cfg)
  pretrain = _train_config(cfg, 0.0, os.path.join(work, "pretrain"), train_data, style_image,
                           cfg.pretrain_steps)
  if cfg.pretrain_steps and cfg.train and not _trained(pretrain):  # every weight's start
    training.train_afresh(pretrain, on_summary=None)
  evaluator = None  # the loss network and style targets, the same for every weight
  runs, outputs = {}, {}  # outputs[(run, clip)]: stylized frames of the unsynthetic clips
  unregularized = {}  # [(clip, seed)]: weight 0's stylized frames of the unsynthetic clips
  for weight in weights(cfg):
    name = f"w{weight:g}"
    seeded = []
    for seed in range(cfg.seeds):
      start = time.perf_counter()
      tcfg, log = _train(cfg, weight, work, train_data, style_image, seed)
      seconds = time.perf_counter() - start
      if evaluator is None:
        evaluator = train_lib.Trainer(tcfg, _strategy(), [_style(style_image)], tcfg.model_dir)
      model = export.restore_render_net(tcfg.model_dir, step=tcfg.steps)  # not a later one
      content, style = _objective(evaluator, model, photos)
      temporal = log.get("temporal")
      entry = dict(weight=weight, train_seconds=seconds if cfg.train else None,
                   content=content, style=style,
                   final_temporal=(float(np.mean(temporal[-10:]))
                                   if temporal is not None and len(temporal) else None),
                   clips={})
      for clip, (frames, flows) in clips.items():
        t0 = time.perf_counter()
        outs = _render(model, frames)
        fps = len(frames) / (time.perf_counter() - t0)
        error, floor = _flicker(outs, frames, flows)
        entry["clips"][clip] = dict(warping_error=error, input_error=floor, fps=fps,
                                    frames=len(frames))
        if flows is None:
          if not seed:  # the figure uses the first seed's frames
            outputs[(name, clip)] = outs
          if not weight:  # the baseline blends every seed's
            unregularized[(clip, seed)] = outs
          terms = _terms_against_source(evaluator, outs, frames)
          entry["clips"][clip].update(content_vs_source=terms[0], style_of_frames=terms[1])
      seeded.append(entry)
    runs[name] = _mean_of_seeds(seeded)
  summary = dict(runs=runs, style_image=os.path.basename(style_image),
                 shared_data=bool(_shared()), clips=list(clips))
  summary["chosen"] = _choose(summary)
  summary["compared"] = compared = _compared(summary)
  summary["baseline"] = _baseline_over_seeds(runs, compared, clips, unregularized, evaluator)
  _frames_figure(outputs, runs, out_dir)
  return summary


def _baseline_over_seeds(runs, compared, clips, unregularized, trainer):
  """_baseline per seed, each seed's weight-0 frames held against the same seed of the
  compared weight (same data order and flows); per clip the seeds' means, each seed's entry
  in seeds (as _mean_of_seeds)."""
  seeds = len(runs["w0"].get("seeds", [None]))
  per_seed = []
  for seed in range(seeds):
    of_seed = {name: entry.get("seeds", [entry])[seed] for name, entry in runs.items()}
    outputs = {("w0", clip): outs for (clip, s), outs in unregularized.items() if s == seed}
    per_seed.append(_baseline(of_seed, compared, clips, outputs, trainer))
  return {clip: _mean_of_seeds([b[clip] for b in per_seed], per_style=False)
          for clip in per_seed[0]}


def _mean_of_seeds(entries, per_style=True):
  """One entry: every number the mean over the seeds' entries (frame counts and weights are
  equal), each seed's style loss kept in style_per_seed (with per_style) and its whole entry
  in seeds."""
  def mean(values):
    first = values[0]
    if all(v == first for v in values[1:]):
      return first
    if isinstance(first, dict):
      return {k: mean([v[k] for v in values]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
      return float(np.mean(values))
    return first
  merged = copy.deepcopy(mean(entries))  # equal entries: not the first itself (a cycle)
  if per_style:
    merged["style_per_seed"] = [e["style"] for e in entries]
  if len(entries) > 1:
    merged["seeds"] = entries
  return merged


def _strategy():
  import tensorflow as tf
  return tf.distribute.get_strategy()


def _style(path):
  from fastchi_tf import data
  return data.read_image(path)


def _real(summary):
  return [c for c in summary["clips"] if c in REAL_CLIPS] or ["demo clip"]


def _mean_error(entry, clips):
  return float(np.mean([entry["clips"][c]["warping_error"] for c in clips]))


def _choose(summary):
  """The largest weight whose style loss stays within 10% of the unregularized one."""
  runs = summary["runs"]
  base = runs["w0"]
  ok = [k for k, v in runs.items() if v["style"] <= 1.10 * base["style"]]
  return max(ok, key=lambda k: runs[k]["weight"])


def _compared(summary):
  """The weight the blending baseline is held against: the chosen one, or when that is 0
  (no weight kept the style loss within 10%), the smallest weight above 0."""
  runs = summary["runs"]
  if summary["chosen"] != "w0":
    return summary["chosen"]
  return min((k for k in runs if runs[k]["weight"] > 0), key=lambda k: runs[k]["weight"])


def _baseline(runs, chosen, clips, outputs, trainer):
  """Per real clip: the blend strength of weight 0's frames that reaches the chosen weight's
  warping error (the strongest tried when none does), the content loss of those blended
  frames against the source and their style term, beside the chosen weight's."""
  out = {}
  for clip in [c for c in clips if clips[c][1] is None]:
    frames = clips[clip][0]
    target = runs[chosen]["clips"][clip]["warping_error"]
    plain = outputs[("w0", clip)]
    for strength in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
      blended = _blend(plain, strength)
      error, _ = _flicker(blended, frames, None)
      if error <= target:
        break
    content, style = _terms_against_source(trainer, blended, frames)
    theirs = runs[chosen]["clips"][clip]
    out[clip] = dict(strength=strength, warping_error=error, target=target,
                     content_blend=content, content_chosen=theirs["content_vs_source"],
                     style_blend=style, style_chosen=theirs["style_of_frames"])
  return out


def _frames_figure(outputs, runs, out_dir):
  """Four consecutive frames of the demo clip and their differences, a row per weight."""
  from fastchi_tf import plots
  rows, labels = [], []
  for name in sorted(runs, key=lambda k: runs[k]["weight"]):
    outs = outputs.get((name, "demo clip"), [])[:4]
    if len(outs) < 4:
      continue
    diffs = [np.clip(np.abs(b.astype(int) - a.astype(int)) * 4, 0, 255).astype(np.uint8)
             for a, b in zip(outs, outs[1:])]
    rows.append(list(outs) + diffs)
    labels.append(f"weight {runs[name]['weight']:g}")
  if rows:
    cols = [f"frame {i}" for i in range(4)] + [f"|{i + 1} - {i}| x4" for i in range(3)]
    plots.image_grid(rows, os.path.join(out_dir, "frames.png"), row_labels=labels,
                     col_labels=cols, scale=1.6)


def report(summary, out_dir):
  import matplotlib.pyplot as plt
  from fastchi_tf import plots
  runs = summary["runs"]
  real = _real(summary)
  fig, ax = plt.subplots(figsize=(4.5, 3.5))
  for name, entry in runs.items():
    ax.scatter(entry["style"], _mean_error(entry, real), color="C0")
    ax.annotate(f"{entry['weight']:g}", (entry["style"], _mean_error(entry, real)), fontsize=8)
  ax.set_xlabel("style loss on held-out photos")
  ax.set_ylabel("warping error, real clips")
  ax.set_title("temporal weight: flicker against style")
  fig.tight_layout()
  plots.save_figure(fig, os.path.join(out_dir, "tradeoff.png"))
  clip_names = summary["clips"]
  seeds = len(runs["w0"].get("style_per_seed", [0]))
  per_seed = ["style per seed"] if seeds > 1 else []
  header = ["weight", "style"] + per_seed + ["content"] + [f"{c} warp" for c in clip_names]
  ordered = sorted(runs.values(), key=lambda e: e["weight"])
  rows = [[f"{e['weight']:g}", f"{e['style']:.4g}"]
          + ([", ".join(f"{v:.4g}" for v in e["style_per_seed"])] if per_seed else [])
          + [f"{e['content']:.4g}"]
          + [f"{e['clips'][c]['warping_error']:.2e}" for c in clip_names]
          for e in ordered]
  floors = (["input (floor)", ""] + [""] * len(per_seed) + [""]
            + [f"{runs['w0']['clips'][c]['input_error']:.2e}" for c in clip_names])
  chosen = summary["chosen"]
  base, best = runs["w0"], runs[chosen]
  cut = _mean_error(best, real) / _mean_error(base, real)
  style_ratio = best["style"] / base["style"]
  paired = [(_mean_error(b, real) / _mean_error(a, real), b["style"] / a["style"])
            for a, b in zip(base.get("seeds", []), best.get("seeds", []))]
  every_seed = _blended_seeds(summary) > 1
  lines = [
      "# Temporal stability: the temporal term's weight against flicker, style and content",
      "", f"Config: {summary['config']}", "", _protocol(summary["config"], every_seed), "",
      f"Style {summary['style_image']}; shared data used: {summary['shared_data']}. "
      "Warping errors are MSE of [0, 1] RGB; synthetic clips use their exact flow, the "
      "others DIS flow on the input frames (their input row is the floor flow errors set).",
      "", reporting.markdown_table(header, rows + [floors]), "",
      f"Chosen weight: {best['weight']:g} (the largest whose style loss is within 10% of "
      f"the unregularized network's): warping error on the real clips x{cut:.2f} of "
      f"weight 0, style loss x{style_ratio:.2f}.",
      f"Goal (cut the real clips' warping error at least in half, style loss at most "
      f"+10%): {'met' if cut <= 0.5 and style_ratio <= 1.10 else 'not met'}"
      + (" (on the means over seeds)." if paired else "."), ""]
  if paired:  # a seed against the same seed of weight 0: same data order and flows
    lines += ["Seed by seed (against weight 0's same seed): warping error "
              + ", ".join(f"x{c:.2f}" for c, _ in paired) + "; style loss "
              + ", ".join(f"x{r:.2f}" for _, r in paired) + ".", ""]
  compared = runs[summary["compared"]]["weight"]
  which = ""
  if every_seed:
    which = (" (each seed's weight-0 frames against the same seed of that weight; blend warp, "
             "target and contents are the seeds' means, strengths each seed's)")
  elif paired:
    which = " (both the first seed)"
  lines += [
      "Warping error against style loss, per weight: tradeoff.png; four consecutive frames "
      "of the demo clip and their differences, per weight: frames.png.", "",
      f"Baseline: blending consecutive output frames of the weight-0 network, at the "
      f"strength that reaches weight {compared:g}'s warping error{which}; content loss of "
      "the frames against their source frames (higher: further from the source, e.g. "
      "smeared)." + ("" if every_seed else " A blend warp above its target: even the "
                     "strongest blend tried does not reach it."), ""]
  styled = _styled(summary)
  plain = runs["w0"]["clips"]
  b_rows = [[clip, ", ".join(f"{x['strength']:g}" for x in b.get("seeds", [b])),
             f"{b['warping_error']:.2e}", f"{b['target']:.2e}",
             f"{plain[clip]['content_vs_source']:.4g}",
             f"{b['content_blend']:.4g}", f"{b['content_chosen']:.4g}"]
            + ([f"{plain[clip]['style_of_frames']:.4g}", f"{b['style_blend']:.4g}",
                f"{b['style_chosen']:.4g}"] if styled else [])
            for clip, b in summary["baseline"].items()]
  lines += [reporting.markdown_table(
      ["clip", "blend strength", "blend warp", "target warp", "content, w0",
       "content, blended w0", f"content, weight {compared:g}"]
      + (["style, w0", "style, blended w0", f"style, weight {compared:g}"]
         if styled else []),
      b_rows), ""]
  if styled:  # averaging frames also averages their textures away
    lines += ["Style: the style term of the same frames against the style image (lower: "
              "closer to the painting's textures). Blending averages each frame's textures "
              "with the last ones', so it can keep content by losing style.", ""]
  lowered = _blend_lowers_content(summary)
  if lowered:  # a smear would raise it
    lines += ["Blending lowers the content term below the unblended frames' own on "
              + ", ".join(f"{clip} ({plain[clip]['content_vs_source']:.4g} to "
                          f"{summary['baseline'][clip]['content_blend']:.4g})"
                          for clip in lowered)
              + ": on these clips the term falls with the textures that averaging removes "
              "instead of rising with a smear, so it cannot show the blend's smearing "
              "there.", ""]
  if every_seed:
    pairs = [x for b in summary["baseline"].values() for x in b["seeds"]]
    less = sum(x["content_blend"] > x["content_chosen"] for x in pairs)
    missed = sum(x["warping_error"] > x["target"] for x in pairs)
    lines += [f"Seed by seed: blending keeps less content than weight {compared:g} on {less} "
              f"of {len(pairs)} clip-seed pairs; the strongest blend misses its target on "
              f"{missed}" + (
                  f"; its style term is higher on "
                  f"{sum(x['style_blend'] > x['style_chosen'] for x in pairs)}"
                  if styled else "") + ".", ""]
  lines += ["Frames/s are the same network's for every weight (see results.json, per clip).",
            ""]
  return "\n".join(lines)


def _blend_lowers_content(summary):
  """The clips on which the blended weight-0 frames have a lower content term (mean over
  seeds) than the same frames unblended."""
  plain = summary["runs"]["w0"]["clips"]
  return [clip for clip, b in summary["baseline"].items()
          if b["content_blend"] < plain[clip].get("content_vs_source", -np.inf)]


def _styled(summary):
  """Whether the baseline has the frames' style term (results before it: no)."""
  return all("style_blend" in b for b in summary["baseline"].values())


def _blended_seeds(summary):
  """How many seeds the baseline blended (results before every seed was blended: 1)."""
  return len(next(iter(summary["baseline"].values()), {}).get("seeds", [None]))


def _protocol(config, every_seed_blended=False):
  pretrain, steps = config.get("pretrain_steps", 0), config.get("steps")
  seeds = config.get("seeds", 1)
  uses = ("frames.png uses the first, the baseline blends each" if every_seed_blended
          else "the baseline and frames.png use the first")
  runs = (f" Each weight is {seeds} runs (seeds {config['seed']} to "
          f"{config['seed'] + seeds - 1}: data order and temporal flows); losses and warping "
          f"errors are their means, {uses}."
          if seeds > 1 else "")
  if not pretrain:
    return f"Each weight trained from scratch for {steps} steps.{runs}"
  return (f"Every weight starts from the same network, trained {pretrain} steps at weight 0, "
          f"and trains {steps} steps more at its own weight (weight 0: the control).{runs}")


def finding(summary):
  runs = summary["runs"]
  real = _real(summary)
  compared = runs[summary["compared"]]
  cut = _mean_error(compared, real) / _mean_error(runs["w0"], real)
  style = compared["style"] / runs["w0"]["style"]
  goal = "met" if summary["chosen"] != "w0" and cut <= 0.5 and style <= 1.1 else "not met"
  worse = sum(b["content_blend"] > b["content_chosen"] for b in summary["baseline"].values())
  baseline = summary["baseline"].values()
  styled = ""
  if _styled(summary):
    styled = (f" and a higher style term on "
              f"{sum(b['style_blend'] > b['style_chosen'] for b in baseline)}")
  return (f"weight {compared['weight']:g}: warping error on the real clips x{cut:.2f} of "
          f"weight 0's, style loss x{style:.2f} (goal: at most x0.5 and x1.10: {goal}); at "
          f"that warping error, blending output frames keeps less content on {worse} of "
          f"{len(summary['baseline'])} clips{styled}")


if __name__ == "__main__":
  runner.main(__name__)
