"""experiments/bench/bench_serve.py end to end on tiny settings: the real server, one setup."""

import dataclasses

import pytest

from experiments.bench import bench_serve
from experiments.lib import runner


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_bench_serve_measures_the_server_and_the_command_line(tmp_path):
  # Small photos and frames (the shipped network at 1600x1200 takes seconds a photo here):
  # the bench's mechanics are what is checked, not its numbers.
  cfg = dataclasses.replace(bench_serve.QUICK, seconds=0.3, live_seconds=0.3, clients=2,
                            live_clients=(1,), setups=(("pool", 1, 1),), cli_photos=1,
                            photo_size=(160, 120), frame_size=(96, 72), large_size=(320, 240))
  summary = runner.execute(bench_serve, cfg, str(tmp_path), quick=True)
  setup, = summary["setups"]
  assert setup["photo"]["requests"] >= 2 and setup["photo"]["failed"] == 0
  assert setup["live"][0]["requests"] >= 1 and setup["live"][0]["failed"] == 0
  assert setup["exit_code"] == 130
  assert summary["cli"]["folder_per_second"] > 0
  text = (tmp_path / "report.md").read_text()
  assert "| pool | 1 |" in text and "Failed requests: none." in text
  assert "photos/s" in bench_serve.finding(summary)
