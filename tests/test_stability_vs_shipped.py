"""The candidate-against-shipped flicker report (experiments/shipped/stability_vs_shipped.py)."""

import pytest

from experiments.shipped import stability_vs_shipped as svs


def _summary(candidate, shipped):
  clips = {"bigbuckbunny.mp4": {}, "scene_cuts.mp4": {}, "demo clip": {}}
  for c in clips:
    clips[c] = {"frames": 8, "size": [90, 160], "input_error": 1e-4}
  errors = lambda values: {"wave": dict(zip(clips, values))}
  return {"clips": clips,
          "networks": {"candidate": {"file": "c.keras", "errors": errors(candidate)},
                       "shipped": {"file": "s.keras", "errors": errors(shipped)}}}


def test_ratios_are_per_real_clip_so_one_clip_cannot_hide_another():
  # The candidate is 10x steadier on scene_cuts but 2x worse on bigbuckbunny: a mean over
  # clips would call it steadier.
  summary = _summary([0.002, 0.001, 0.5], [0.001, 0.01, 0.001])
  found = svs.ratios(summary)
  assert found["wave"] == pytest.approx({"bigbuckbunny.mp4": 2.0, "scene_cuts.mp4": 0.1})
  assert "higher somewhere in wave" in svs.finding(summary)
  assert svs.real_mean(summary, "candidate", "wave") < svs.real_mean(summary, "shipped", "wave")
  assert "| wave | 0.00150 | 0.00550 | 2.00, 0.10 |" in svs.report(summary, None)


def test_a_steadier_candidate_is_said_to_be_so():
  summary = _summary([0.0005, 0.001, 0.5], [0.001, 0.002, 0.001])
  assert svs.finding(summary).endswith("0.50-0.50; no style flickers more on any clip")


def test_a_missing_network_is_named(tmp_path):
  cfg = svs.Config(candidate=str(tmp_path / "gone.keras"))
  with pytest.raises(ValueError, match="the candidate network .*gone.keras: no such file"):
    svs._networks(cfg)
