"""The experiment scripts run end to end on tiny settings and write what their reports show."""

import dataclasses
import os

from experiments import common
from experiments import loss_networks
from experiments import render_ablation


def test_render_ablation_writes_figures_numbers_and_report(tmp_path, photo_folder):
  cfg = dataclasses.replace(render_ablation.QUICK, steps=2, snapshot_every=1, image_size=32,
                            networks=(("original", 4), ("inception", 4)), snapshot_size=32)
  summary = render_ablation.run(cfg, str(tmp_path), str(tmp_path / "work"), photo_folder)
  assert len(summary["runs"]) == 6
  for name in ("fig5_style_only.png", "fig6_content_only.png", "fig7_total.png",
               "fig8_loss_curves.png", "results.json", "losses_inception_w4_total.csv"):
    assert os.path.getsize(tmp_path / name) > 0, name
  assert common.read_json(str(tmp_path / "results.json"))["runs"].keys() == summary["runs"].keys()
  text = render_ablation.report(summary)
  assert "inception / original" in text and "fig8_loss_curves.png" in text


def test_loss_networks_judges_every_run_and_names_the_skipped(tmp_path, photo_folder):
  cfg = dataclasses.replace(
      loss_networks.QUICK, steps=1, image_size=32, snapshot_size=32, width=4,
      networks=(("VGG16 (hed)", "vgg16", "hed"), ("tiny-YOLO", "tiny_yolo", "tiny_yolo_file"),
                ("tiny-YOLO random", "tiny_yolo", "random")))
  summary = loss_networks.run(cfg, str(tmp_path), str(tmp_path / "work"), photo_folder)
  assert set(summary["runs"]) == {"VGG16 (hed) / mean", "VGG16 (hed) / sum",
                                  "tiny-YOLO random / mean", "tiny-YOLO random / sum"}
  assert "tiny_yolo_weights" in summary["skipped"]["tiny-YOLO"]
  for run in summary["runs"].values():
    assert 0 < run["judge"]["style"] < summary["photos_themselves"]["style"] * 10
  assert os.path.getsize(tmp_path / "fig10_outputs.png") > 0
  assert "tiny-YOLO: skipped" in loss_networks.report(summary)
