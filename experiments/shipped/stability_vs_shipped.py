r"""Does a candidate collection flicker more than the shipped one? (issue 32's video point)

The warping error (fastchi_tf/flicker.py: Lai et al. 2018) of two saved multi-style networks in
each of their styles, on the real clips of ../shared/data/video/ and on the clip `make demo`
generates, every output measured against the same flows, masks and cuts of the input
(experiments/shipped/styles_stability.py's measure). Issue 32: a retrained collection ships
only if its warping error on the real clips is no higher than the shipped one's.

Run times on 2 CPU cores (AMD EPYC, AVX2):
  python -m experiments.shipped.stability_vs_shipped --candidate ../runs/tuned_affine.keras \
      --reference ../runs/third_step6000.keras
      # ~10 min (48 frames a clip, at most 640 px); --reference: the network shipped before
      # the candidate was (a copy of fastchi_tf/shipped/model.keras), once it is
  python -m experiments.shipped.stability_vs_shipped --quick   # 8 frames, 160 px: ~1 min

Data: ../shared/data/video (not in the repository) and the candidate network.
"""

import dataclasses
import os
from typing import Optional

import numpy as np

from experiments.lib import runner
from experiments.lib import training
from experiments.paper.temporal_stability import REAL_CLIPS
from experiments.shipped import styles_stability
from fastchi_tf import stylize


@dataclasses.dataclass(frozen=True)
class Config:
  candidate: Optional[str] = runner.flag(
      None, "The candidate network (.keras); default: ../runs/tuned_affine.keras.")
  reference: Optional[str] = runner.flag(
      None, "The network it is held against (default: the shipped fastchi_tf/shipped/"
      "model.keras).")
  max_frames: Optional[int] = 48  # per clip
  clip_max_side: Optional[int] = 640


FULL = Config()
QUICK = Config(max_frames=8, clip_max_side=160)


def _networks(cfg):
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  paths = {"candidate": cfg.candidate or os.path.join(training.RUNS, "tuned_affine.keras"),
           "shipped": cfg.reference or shipped.path("keras")}
  for label, path in paths.items():
    if not os.path.isfile(path):
      raise ValueError(f"the {label} network {path}: no such file")
  return {label: (os.path.basename(path), layers.load_model(path))
          for label, path in paths.items()}


def run(cfg, out_dir):
  del out_dir
  clips = styles_stability._clips(cfg)  # pylint: disable=protected-access
  flows = {name: styles_stability._pairs(frames)  # pylint: disable=protected-access
           for name, frames in clips.items()}
  networks = {}
  for label, (file, model) in _networks(cfg).items():
    stylizer = stylize.KerasStylizer(label, model)
    errors = {}
    for style in stylizer.style_names:
      stylizer.set_style(style)
      errors[style] = {clip: styles_stability._error(  # pylint: disable=protected-access
          [stylizer(f) for f in frames], flows[clip][0]) for clip, frames in clips.items()}
      print(f"{label} {style}: " + ", ".join(f"{c} {e:.5f}" for c, e in
                                              errors[style].items()), flush=True)
    networks[label] = {"file": file, "errors": errors}
  return {"networks": networks,
          "clips": {c: {"frames": len(f), "size": list(f[0].shape[:2]),
                        "input_error": flows[c][1]} for c, f in clips.items()}}


def real_mean(summary, label, style):
  errors = summary["networks"][label]["errors"][style]
  return float(np.mean([errors[c] for c in summary["clips"] if c in REAL_CLIPS]))


def ratios(summary):
  """{style: {real clip: the candidate's warping error / the shipped one's}}: per clip, as
  one clip's errors can be ten times another's and would decide a mean alone."""
  nets = summary["networks"]
  return {s: {c: nets["candidate"]["errors"][s][c] / nets["shipped"]["errors"][s][c]
              for c in summary["clips"] if c in REAL_CLIPS}
          for s in nets["candidate"]["errors"]}


def finding(summary):
  found = [r for per_clip in ratios(summary).values() for r in per_clip.values()]
  worse = sorted({s for s, per_clip in ratios(summary).items()
                  if any(r > 1.0 for r in per_clip.values())})
  return (f"candidate / shipped warping error, per style and real clip: "
          f"{min(found):.2f}-{max(found):.2f}"
          + (f"; higher somewhere in {', '.join(worse)}" if worse
             else "; no style flickers more on any clip"))


def report(summary, out_dir):
  del out_dir
  nets = summary["networks"]
  real = [c for c in summary["clips"] if c in REAL_CLIPS]
  lines = ["# Does the candidate collection flicker more than the shipped one?", "",
           f"Candidate {nets['candidate']['file']}, shipped {nets['shipped']['file']}. Warping "
           "error (Lai et al. 2018; lower is steadier; RGB in [0, 1]), the mean over the real "
           f"clips ({', '.join(real)}); the input clips' own errors: "
           + ", ".join(f"{c} {v['input_error']:.5f}" for c, v in summary["clips"].items())
           + ".", "",
           "| style | candidate | shipped | candidate / shipped, per clip: "
           + ", ".join(real) + " |", "|---|---|---|---|"]
  for style, per_clip in ratios(summary).items():
    lines.append(f"| {style} | {real_mean(summary, 'candidate', style):.5f} | "
                 f"{real_mean(summary, 'shipped', style):.5f} | "
                 + ", ".join(f"{r:.2f}" for r in per_clip.values()) + " |")
  lines += ["", "Per clip:", "", "| network | style | " + " | ".join(summary["clips"]) + " |",
            "|---|---|" + "---|" * len(summary["clips"])]
  for label, entry in nets.items():
    for style, errors in entry["errors"].items():
      lines.append(f"| {label} | {style} | "
                   + " | ".join(f"{errors[c]:.5f}" for c in summary["clips"]) + " |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  runner.main(__name__)
