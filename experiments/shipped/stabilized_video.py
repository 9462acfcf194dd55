r"""How much steadier the video tool's --stabilize makes the shipped styles, and at what cost.

The shipped network paints strokes, and strokes drawn a little differently in each frame
flicker more than the tinted photos of the network it replaced (issue 32's video point,
experiments/shipped/stability_vs_shipped). fastchi_tf/stabilize.py blends each output frame
with the previous one carried along the input's flow. For each style of the shipped network,
on the real clips of ../shared/data/video/ (48 frames, at most 640 px) and the demo's clip:

  - the warping error (fastchi_tf/flicker.py) of the frames as stylized and stabilized at
    each strength, beside the network shipped before (--reference, as stylized). The
    stabilizer follows DIS flow, the flow the measure uses, so every output is also measured
    with Farneback's flow, an estimator the stabilizer never sees: a gain that holds under
    both is not an artefact of one estimator;
  - what the blend costs the picture: the style judge (experiments/lib/judges.py) of the
    middle frame of each clip against the painting, and the mean change from the frames as
    stylized, in levels;
  - a strip of consecutive frames of one clip in one style with the change between them
    (strip.png): look at it for trails and smears.

Run times on 2 CPU cores (Intel Xeon, AVX-512):
  python -m experiments.shipped.stabilized_video --reference ../runs/third_step6000.keras
      # ~15 min; the reference: the third recipe's network (git show
      # 05dee55:fastchi_tf/shipped/model.keras), which issue 32's video point is held to
  python -m experiments.shipped.stabilized_video --quick   # 8 frames, 160 px: ~1 min

Data: ../shared/data/video and paintings (not in the repository).
"""

import dataclasses
import os
from typing import Optional

import cv2
import numpy as np
from PIL import Image

from experiments.lib import judges
from experiments.lib import runner
from experiments.lib import training
from experiments.paper.temporal_stability import REAL_CLIPS
from experiments.shipped import styles_stability
from fastchi_tf import flicker
from fastchi_tf import plots
from fastchi_tf import stabilize
from fastchi_tf import stylize


@dataclasses.dataclass(frozen=True)
class Config:
  reference: Optional[str] = runner.flag(
      None, "The network held up as the bar, as stylized (.keras; issue 32: the third "
      "recipe's step 6000). Default: none.")
  strengths: tuple = (0.5, 0.7, 0.8)
  max_frames: Optional[int] = 48  # per clip
  clip_max_side: Optional[int] = 640
  strip_clip: str = "bigbuckbunny.mp4"
  strip_style: str = "starry_night"


FULL = Config()
QUICK = Config(max_frames=8, clip_max_side=160, strengths=(0.7,))


def farneback(a, b):
  """Farneback's dense flow from uint8 RGB frame `a` to `b`: a second estimator."""
  grey = [cv2.cvtColor(np.asarray(f, np.uint8), cv2.COLOR_RGB2GRAY) for f in (a, b)]
  return cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 4, 15, 3, 5, 1.1, 0)


def _pairs(frames, estimate):
  """Per consecutive pair (flow, mask) under one estimator, None for a scene cut (cuts are
  found with DIS for both, so both measure the same pairs)."""
  pairs = []
  for previous, current in zip(frames, frames[1:]):
    if flicker.is_cut(previous, current):
      pairs.append(None)
      continue
    forward = estimate(previous, current)
    mask = flicker.consistency_mask(forward, estimate(current, previous))
    pairs.append((forward, mask))
  return pairs


def _stabilized(frames, outputs, strength):
  stabilizer = stabilize.Stabilizer(strength)
  return [stabilizer(f, o) for f, o in zip(frames, outputs)]


def run(cfg, out_dir):
  from fastchi_tf import layers  # pylint: disable=g-import-not-at-top
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  clips = styles_stability._clips(cfg)  # pylint: disable=protected-access
  estimators = {"dis": flicker.estimate_flow, "farneback": farneback}
  pairs = {c: {k: _pairs(f, e) for k, e in estimators.items()} for c, f in clips.items()}
  paintings = {}
  networks = {"shipped": shipped.path("keras")}
  if cfg.reference:
    if not os.path.isfile(cfg.reference):
      raise ValueError(f"--reference {cfg.reference}: no such file")
    networks["reference"] = cfg.reference
  rows = []
  strip = {}
  for label, path in networks.items():
    stylizer = stylize.KerasStylizer(label, layers.load_model(path))
    for style in stylizer.style_names:
      stylizer.set_style(style)
      painting = paintings.setdefault(style, np.asarray(Image.open(os.path.join(
          training.SHARED, "styles", f"{style}.jpg")).convert("RGB")))
      target = judges.style_embedding(painting)
      for clip, frames in clips.items():
        raw = [stylizer(f) for f in frames]
        versions = {0.0: raw}
        if label == "shipped":
          versions.update({s: _stabilized(frames, raw, s) for s in cfg.strengths})
        middle = len(frames) // 2
        for strength, outputs in versions.items():
          row = dict(network=label, style=style, clip=clip, strength=strength,
                     changed=float(np.mean([np.abs(o.astype(float) - r).mean()
                                            for o, r in zip(outputs, raw)])),
                     style_judge=judges.style_score(outputs[middle], frames[middle],
                                                    painting_embedding=target))
          for k in estimators:
            row[k] = float(np.nanmean([flicker.pair_error(a, b, *p)[0] for a, b, p in zip(
                outputs, outputs[1:], pairs[clip][k]) if p is not None] or [np.nan]))
          rows.append(row)
          if clip == cfg.strip_clip and style == cfg.strip_style:
            strip[f"{label} {strength:g}"] = outputs
        print(f"{label} {style} {clip}: " + ", ".join(
            f"{r['strength']:g}: {r['dis']:.5f}" for r in rows[-len(versions):]), flush=True)
  if strip:
    _strip(clips[cfg.strip_clip], strip, os.path.join(out_dir, "strip.png"))
  return {"rows": rows, "networks": {k: os.path.basename(v) for k, v in networks.items()},
          "strengths": list(cfg.strengths),
          "clips": {c: {"frames": len(f), "size": list(f[0].shape[:2])}
                    for c, f in clips.items()}}


def _strip(frames, versions, path, start=8, count=4):
  """Consecutive frames and the change between them (x4; brighter: more change)."""
  start = min(start, max(0, len(frames) - count - 1))
  rows, labels = [frames[start:start + count]], ["input"]
  for label, outputs in versions.items():
    part = outputs[start:start + count + 1]
    rows.append(part[:count])
    labels.append(label)
    rows.append([np.clip(4 * np.abs(b.astype(int) - a.astype(int)), 0, 255).astype(np.uint8)
                 for a, b in zip(part, part[1:])])
    labels.append("change x4")
  plots.image_grid(rows, path, row_labels=labels, scale=3)


def table(summary):
  """{(network, strength): {style: {estimator: mean over the real clips, "judge": median,
  "changed": mean, "ratios" and "farneback_ratios": {clip: error / the reference's}}}}."""
  rows = summary["rows"]
  reference = {(r["style"], r["clip"]): r for r in rows if r["network"] == "reference"}
  out = {}
  for r in rows:
    if r["clip"] not in REAL_CLIPS:
      continue
    entry = out.setdefault((r["network"], r["strength"]), {}).setdefault(
        r["style"], {"dis": [], "farneback": [], "judge": [], "changed": [], "ratios": {},
                     "farneback_ratios": {}})
    for k in ("dis", "farneback", "judge", "changed"):
      entry[k].append(r["style_judge"] if k == "judge" else r[k])
    if reference:
      bar = reference[(r["style"], r["clip"])]
      entry["ratios"][r["clip"]] = r["dis"] / bar["dis"]
      entry["farneback_ratios"][r["clip"]] = r["farneback"] / bar["farneback"]
  for per_style in out.values():
    for entry in per_style.values():
      for k in ("dis", "farneback", "changed"):
        entry[k] = float(np.mean(entry[k]))
      entry["judge"] = float(np.median(entry["judge"]))
  return out


def _under(summary, strength, key="ratios"):
  """(pairs at or under the reference, pairs) for the shipped network at `strength`."""
  ratios = [v for e in table(summary).get(("shipped", strength), {}).values()
            for v in e[key].values()]
  return sum(r <= 1.0 for r in ratios), len(ratios)


def finding(summary):
  if "reference" not in summary["networks"]:
    return "no reference network given"
  parts = []
  for strength in [0.0] + summary["strengths"]:
    (under, total), (second, _) = _under(summary, strength), _under(
        summary, strength, "farneback_ratios")
    parts.append(f"{strength:g}: {under}/{total} ({second})")
  return ("shipped style-clip pairs whose warping error is at or under the reference's, by "
          "--stabilize strength, under DIS flow (under Farneback's): " + ", ".join(parts))


def report(summary, out_dir):
  del out_dir
  rows = table(summary)
  styles = sorted({s for per in rows.values() for s in per})
  real = [c for c in summary["clips"] if c in REAL_CLIPS]
  lines = ["# Steadier video with --stabilize: the shipped styles", "",
           f"Shipped network {summary['networks']['shipped']}"
           + (f", reference {summary['networks']['reference']} (as stylized)"
              if "reference" in summary["networks"] else "")
           + f". Real clips: {', '.join(real)} ({summary['clips'][real[0]]['frames']} frames, "
           "at most 640 px). Warping error (lower is steadier; RGB in [0, 1]), the mean over "
           "the real clips, under DIS flow (the stabilizer's own estimator) and Farneback's "
           "(one it never sees); the style judge of each clip's middle frame (median; lower is "
           "closer to the painting); the mean change from the frames as stylized, in levels.",
           ""]
  if "reference" in summary["networks"]:
    lines += [finding(summary) + ".", ""]
  lines += ["| network | stabilize | style | warping error (DIS) | (Farneback) | / reference, "
            f"per clip ({', '.join(real)}), DIS | (Farneback) | style judge | changed |",
            "|---|---|---|---|---|---|---|---|---|"]
  for (network, strength), per_style in sorted(rows.items()):
    for style in styles:
      e = per_style[style]
      ratios = [", ".join(f"{e[k][c]:.2f}" for c in real) if e[k] else "-"
                for k in ("ratios", "farneback_ratios")]
      lines.append(f"| {network} | {strength:g} | {style} | {e['dis']:.5f} | "
                   f"{e['farneback']:.5f} | {ratios[0]} | {ratios[1]} | {e['judge']:.2f} | "
                   f"{e['changed']:.1f} |")
  lines += ["", "![frames and the change between them](strip.png)"]
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  runner.main(__name__)
