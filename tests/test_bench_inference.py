"""The inference benchmark runs end to end on a tiny frame (its timings are not checked)."""

import dataclasses

import pytest

from experiments.bench import bench_inference
from experiments.lib import runner


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_benchmark_times_every_network_and_form_and_reports_its_targets(tmp_path):
  cfg = dataclasses.replace(
      bench_inference.QUICK, sizes=((32, 32),), batches=(1,), rounds=1, warmup=1,
      space_to_depth=True, networks=(("original", 8, None), ("inception", 8, 2)),
      matmul_size=64, conv_probe_size=16, conv_probe_channels=8)
  summary = runner.execute(bench_inference, cfg, str(tmp_path))
  assert {"rows", "peaks_gflops", "probe_gflops", "targets", "runtime", "config", "machine",
          "run_seconds"} <= summary.keys()
  assert set(summary["peaks_gflops"]) == {"matmul", "conv3x3"}
  assert len(summary["rows"]) == 4
  for row in summary["rows"]:
    assert {"ms_per_frame", "frames_per_s", "gflops", "fraction_of_conv3x3_peak",
            "fraction_of_matmul_peak", "executed_gflop_per_frame"} <= row.keys()
    # The space-to-depth form does more FLOPs, but is credited with the plain network's.
    assert (row["executed_gflop_per_frame"] > row["gflop_per_frame"]) == row["space_to_depth"]
  assert set(summary["targets"]) == {"plain", "space_to_depth"}
  assert "32x32 batch 1" in summary["targets"]["plain"]["inception_k2_speedup"]
  report = (tmp_path / "report.md").read_text()
  assert "| original | 8 | - | s2d | 32x32 | 1 |" in report
  (speed_target, speed_measured, _), = bench_inference.targets(summary)[1:]
  assert "2x the original's frames/s" in speed_target and "with space-to-depth" in speed_measured
