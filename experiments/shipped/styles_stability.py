r"""Stability of the shipped styles: the recipe with its temporal term against the recipe without.

Two runs of experiments/shipped/styles.py, the same in everything but the temporal weight (same
start, data order, seed and steps): the shipped one (temporal weight 3000, ../runs/styles_v3)
and a control (`--temporal_weight 0`, ../runs/styles_v3_t0). For each run at `step`, in each
of the six styles:

  - the warping error (fastchi_tf/flicker.py: Lai et al. 2018) on the real clips of
    ../shared/data/video/ and on the clip `make demo` generates, beside the input clip's
    own error (the floor that flow errors set). The flow is estimated once per clip on the
    input frames and every output is measured against the same flow, masks and cuts;
  - the training objective's style and content terms on held-out BSDS500 test/ photos.

Commands and run times on 2 CPU cores (AMD EPYC, nothing else running):
  python -m experiments.shipped.styles --temporal_weight 0 --part_steps 1800 --noship \
      --work_dir ../runs/styles_v3_t0 --out_dir ../runs/styles_v3_t0/results
      # the control, to the step measured: ~36 min at 128 px (0.84 steps/s)
  python -m experiments.shipped.styles_stability          # ~8 min: 48 frames a clip, at
                                                          # most 640 px
  python -m experiments.shipped.styles_stability --quick  # ~1 min: 8 frames a clip, at
                                                          # most 160 px

Data: ../shared/data (clips, test photos) and the two run folders in ../runs beside the
repository (--runs_dir); neither is in the repository, so this experiment needs them.
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from experiments.lib import runner
from experiments.lib import training
from experiments.paper.temporal_stability import DEMO_CLIP
from experiments.paper.temporal_stability import REAL_CLIPS
from fastchi_tf import export
from fastchi_tf import flicker
from fastchi_tf import plots
from fastchi_tf import samples
from fastchi_tf import stylize
from fastchi_tf import video_io


@dataclasses.dataclass(frozen=True)
class Config:
  # (label, temporal weight, run folder name in runs_dir); the shipped run first.
  runs: tuple = (("temporal 3000 (the shipped recipe)", 3000.0, "styles_v3"),
                 ("temporal 0 (control)", 0.0, "styles_v3_t0"))
  # Step 1800: the first control run diverged at step ~1850 (its style term jumped from ~1 to
  # 7000 and the pictures became white blobs), so it was run again to 1800 and both runs
  # are compared there, before that happened.
  step: int = runner.flag(1800, "The step of both runs that is measured.")
  max_frames: Optional[int] = 48  # per clip
  clip_max_side: Optional[int] = 640  # clips are downscaled to this first
  eval_photos: int = 6  # held-out BSDS500 test/ photos
  eval_size: int = 256
  runs_dir: Optional[str] = runner.flag(None, "Folder holding the run folders (default: "
                                        "../runs beside the repository).")


FULL = Config()
QUICK = Config(max_frames=8, clip_max_side=160, eval_photos=2, eval_size=64)


def _clips(cfg):
  """{name: uint8 frames}: the real clips, then the demo's."""
  clips = {}
  for name in REAL_CLIPS:
    path = os.path.join(training.SHARED, "video", name)
    if not os.path.exists(path):
      raise ValueError(f"{path} not found: this experiment measures the real clips of "
                       "../shared/data (see its SOURCES.md)")
    frames = video_io.read_frames(video_io.probe(path), cfg.max_frames)
    clips[name] = [stylize.downscale(f, cfg.clip_max_side) for f in frames]
  photo, width, height, count = DEMO_CLIP
  frames = samples.pan_frames(samples.read_photo(photo), width, height, count)
  clips["demo clip"] = [stylize.downscale(f, cfg.clip_max_side)
                       for f in list(frames)[:cfg.max_frames]]
  return clips


def _pairs(frames):
  """Per consecutive pair: (forward flow, occlusion mask), or None for a scene cut; and the
  input clip's own warping error."""
  pairs, errors = [], []
  for previous, current in zip(frames, frames[1:]):
    forward = flicker.estimate_flow(previous, current)
    if flicker.is_cut(previous, current, forward):
      pairs.append(None)
      continue
    mask = flicker.consistency_mask(forward, flicker.estimate_flow(current, previous))
    pairs.append((forward, mask))
    errors.append(flicker.pair_error(previous, current, forward, mask)[0])
  return pairs, float(np.nanmean(errors))


def _error(outputs, pairs):
  """The outputs' warping error against the input's flows (cuts skipped)."""
  errors = [flicker.pair_error(a, b, *pair)[0]
            for a, b, pair in zip(outputs, outputs[1:], pairs) if pair is not None]
  return float(np.nanmean(errors))


def run(cfg, out_dir):
  clips = _clips(cfg)
  flows = {name: _pairs(frames) for name, frames in clips.items()}
  found = training.bsds_test_photos(cfg.eval_photos, cfg.eval_size)
  if found is None:
    raise ValueError(f"{training.BSDS} not found: the losses are measured on its test/ photos")
  names, photos = found
  evaluator = None  # one loss network and set of style targets (the runs share them)
  runs, strips = {}, {}
  for label, weight, folder in cfg.runs:
    model_dir = os.path.join(cfg.runs_dir or training.RUNS, folder, "run")
    model = export.restore_render_net(model_dir, step=cfg.step)
    if evaluator is None:
      evaluator = training.restored_trainer(model_dir)
    evaluator.model.set_weights(model.get_weights())
    losses, _ = training.style_losses(evaluator, photos)
    stylizer = stylize.KerasStylizer(label, model)
    entry = {"temporal_weight": weight, "folder": folder, "styles": {}}
    for style in stylizer.style_names:
      stylizer.set_style(style)
      errors = {}
      for clip, frames in clips.items():
        outputs = [stylizer(f) for f in frames]
        errors[clip] = _error(outputs, flows[clip][0])
        if clip == "bigbuckbunny.mp4" and style == "starry_night":
          strips[label] = outputs
      entry["styles"][style] = dict(losses[style], warping_error=errors)
      print(f"{label} {style}: " + ", ".join(f"{c} {e:.5f}" for c, e in errors.items()),
            flush=True)
    runs[label] = entry
  _strip_figure(clips["bigbuckbunny.mp4"], strips, os.path.join(out_dir, "frames.png"))
  return {"step": cfg.step, "eval_photos": names, "runs": runs,
          "clips": {c: {"frames": len(f), "size": list(f[0].shape[:2]),
                        "input_error": flows[c][1],
                        "cuts": sum(p is None for p in flows[c][0])}
                    for c, f in clips.items()}}


def _strip_figure(frames, strips, path, count=4):
  """Consecutive frames of a real clip in starry_night, and each run's differences between
  consecutive outputs (x4; brighter: more change)."""
  rows, labels = [frames[:count]], ["input"]
  for label, outputs in strips.items():
    rows.append(outputs[:count])
    labels.append(label.split(" (")[0])
    diffs = [np.clip(4 * np.abs(b.astype(int) - a.astype(int)), 0, 255).astype(np.uint8)
             for a, b in zip(outputs[:count], outputs[1:count + 1])]
    rows.append(diffs)
    labels.append("change x4")
  plots.image_grid(rows, path, row_labels=labels, scale=4)


def _real(summary):
  return [c for c in summary["clips"] if c in REAL_CLIPS]


def _labels(summary):
  """The runs' labels in the config's order (results.json sorts its keys)."""
  return [label for label, _, _ in summary["config"]["runs"]]


def ratios(summary):
  """{style: the control's mean real-clip warping error / the shipped recipe's}."""
  runs = summary["runs"]
  shipped = max(runs.values(), key=lambda r: r["temporal_weight"])
  control = min(runs.values(), key=lambda r: r["temporal_weight"])
  real = _real(summary)
  mean = lambda entry, style: np.mean([entry["styles"][style]["warping_error"][c]
                                       for c in real])
  return {s: float(mean(control, s) / mean(shipped, s)) for s in shipped["styles"]}


def report(summary, out_dir):
  del out_dir
  labels = _labels(summary)
  real = _real(summary)
  lines = [
      "# Stability of the shipped styles: the temporal term on and off",
      "",
      f"Both runs of `experiments/shipped/styles.py` at step {summary['step']}, the same but for "
      "the temporal weight. Both start from the first recipe's network (which trained "
      "with the temporal term), so this measures what the fine-tuning steps' temporal term "
      "does, not the whole recipe's.",
      "",
      "Warping error (Lai et al. 2018; lower is steadier; RGB in [0, 1]), the mean over "
      f"the real clips ({', '.join(real)}); the input clips' own errors (the floor that "
      "flow errors set): " + ", ".join(f"{c} {v['input_error']:.5f}"
                                       for c, v in summary["clips"].items()) + ".",
      "",
      "| style | " + " | ".join(f"{l}: warping error | style | content" for l in labels)
      + " | warping error, control / shipped recipe |",
      "|---|" + "---|---|---|" * len(labels) + "---|",
  ]
  found = ratios(summary)
  first = summary["runs"][labels[0]]
  for style in first["styles"]:
    cells = []
    for label in labels:
      values = summary["runs"][label]["styles"][style]
      error = np.mean([values["warping_error"][c] for c in real])
      cells += [f"{error:.5f}", f"{values['style']:.3g}", f"{values['content']:.4g}"]
    lines.append(f"| {style} | " + " | ".join(cells) + f" | {found[style]:.2f} |")
  lines += ["", "Per clip:", "",
            "| run | style | " + " | ".join(summary["clips"]) + " |",
            "|---|---|" + "---|" * len(summary["clips"])]
  for label in labels:
    for style, values in summary["runs"][label]["styles"].items():
      lines.append(f"| {label} | {style} | " + " | ".join(
          f"{values['warping_error'][c]:.5f}" for c in summary["clips"]) + " |")
  lines += ["", f"Style and content: the training objective's unweighted terms, mean over "
            f"{len(summary['eval_photos'])} held-out BSDS500 test/ photos.", "",
            "Consecutive frames of bigbuckbunny.mp4 in starry_night and their differences: "
            "frames.png ![frames](frames.png)", ""]
  return "\n".join(lines)


def finding(summary):
  found = ratios(summary)
  runs = summary["runs"]
  shipped = max(runs.values(), key=lambda r: r["temporal_weight"])
  control = min(runs.values(), key=lambda r: r["temporal_weight"])
  style = [shipped["styles"][s]["style"] / control["styles"][s]["style"] for s in found]
  return (f"step {summary['step']} of the fine-tuning: without the temporal term the real "
          f"clips' warping error is {min(found.values()):.2f}-{max(found.values()):.2f}x "
          f"the shipped recipe's; the recipe's style terms are {min(style):.2f}-"
          f"{max(style):.2f}x the control's")


if __name__ == "__main__":
  runner.main(__name__)
