"""The --stabilize measurement's pieces that need no data (experiments/shipped/
stabilized_video.py): the second flow estimator and the per-clip counts under both."""

import numpy as np
import pytest
from skimage import data as skdata

from experiments.shipped import stabilized_video as sv


def test_farneback_finds_a_whole_pixel_shift():
  image = skdata.chelsea()[:120, :160]
  shifted = np.roll(image, (2, 3), axis=(0, 1))  # content moves 3 right and 2 down
  flow = sv.farneback(image, shifted)
  inner = flow[20:-20, 20:-20]
  assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.3)
  assert np.median(inner[..., 1]) == pytest.approx(2.0, abs=0.3)


def _row(network, strength, clip, dis, farneback, judge=0.5, changed=0.0):
  return dict(network=network, style="wave", clip=clip, strength=strength, dis=dis,
              farneback=farneback, style_judge=judge, changed=changed)


def _summary():
  clips = ("bigbuckbunny.mp4", "scene_cuts.mp4")
  rows = [_row("reference", 0.0, c, 0.001, 0.001) for c in clips]
  rows += [_row("shipped", 0.0, c, 0.002, 0.002) for c in clips]
  # Stabilized: under the reference on both clips by DIS, over on the cuts by Farneback.
  rows += [_row("shipped", 0.7, "bigbuckbunny.mp4", 0.0005, 0.0006, judge=0.55, changed=2.0),
           _row("shipped", 0.7, "scene_cuts.mp4", 0.0009, 0.0015, judge=0.53, changed=3.0)]
  # The demo's clip is not a real clip: it counts for nothing.
  rows += [_row(n, s, "demo clip", 1.0, 1.0) for n, s in
           (("reference", 0.0), ("shipped", 0.0), ("shipped", 0.7))]
  return {"rows": rows, "networks": {"shipped": "model.keras", "reference": "old.keras"},
          "strengths": [0.7],
          "clips": {c: {"frames": 8, "size": [90, 160]} for c in clips + ("demo clip",)}}


def test_pairs_under_the_reference_are_counted_per_clip_under_each_estimator():
  summary = _summary()
  table = sv.table(summary)
  entry = table[("shipped", 0.7)]["wave"]
  assert entry["ratios"] == pytest.approx({"bigbuckbunny.mp4": 0.5, "scene_cuts.mp4": 0.9})
  assert entry["farneback_ratios"] == pytest.approx({"bigbuckbunny.mp4": 0.6,
                                                      "scene_cuts.mp4": 1.5})
  assert entry["judge"] == pytest.approx(0.54) and entry["changed"] == pytest.approx(2.5)
  assert sv.finding(summary).endswith("0: 0/2 (0), 0.7: 2/2 (1)")
  report = sv.report(summary, None)
  assert "| shipped | 0.7 | wave | 0.00070 | 0.00105 | 0.50, 0.90 | 0.60, 1.50 | 0.54 | 2.5 |" \
      in report
