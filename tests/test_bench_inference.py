"""The inference benchmark runs end to end on a tiny frame (its timings are not checked)."""

import json

from experiments import bench_inference


def test_benchmark_times_every_network_and_form_and_writes_plain_json():
  payload = bench_inference.run(
      sizes=((32, 32),), batches=(1,), rounds=1, warmup=1,
      modes=((False, False), (False, True)),
      networks=(("original", 8, None), ("inception", 8, 2)), log=lambda line: None)
  assert json.loads(json.dumps(payload)).keys() == {
      "rows", "peaks_gflops", "probe_gflops", "targets", "settings"}
  assert set(payload["peaks_gflops"]) == {"matmul", "conv3x3"}
  assert len(payload["rows"]) == 4
  for row in payload["rows"]:
    assert {"ms_per_frame", "frames_per_s", "gflops", "fraction_of_conv3x3_peak",
            "fraction_of_matmul_peak", "executed_gflop_per_frame"} <= row.keys()
    # The space-to-depth form does more FLOPs, but is credited with the plain network's.
    assert (row["executed_gflop_per_frame"] > row["gflop_per_frame"]) == row["space_to_depth"]
  assert set(payload["targets"]) == {"plain", "space_to_depth"}
  assert "32x32 batch 1" in payload["targets"]["plain"]["inception_k2_speedup"]
  assert "| original | 8 | - | s2d | 32x32 | 1 |" in bench_inference.table(payload["rows"])
