"""The benchmarks' shared helpers: readers, the feeds that time waits, and result writing.

No timing assertions: only that each helper measures what it claims to.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from experiments.lib import input_timing
from experiments.lib import op_profile
from experiments.lib import reporting
from experiments.lib import video_timing
from fixtures_models import small_exports  # noqa: F401  (a fixture)


class _SumTrainer:
  """Stands in for train_lib.Trainer: "trains" by returning the sum of each batch it takes."""

  def __init__(self):
    self.seen = []
    self._loop = tf.function(self._train_loop)

  def _train_loop(self, iterator, steps):
    total = tf.constant(0.0)
    for _ in tf.range(steps):
      total += tf.reduce_sum(next(iterator))
    return total

  def run_steps(self, iterator, steps):
    self.seen.append(float(self._loop(iterator, tf.constant(steps))))


def test_sequential_reader_gives_float_batches_of_square_crops(tmp_path):
  files = input_timing.make_photo_folder(str(tmp_path), count=3, side=80)
  reader = input_timing.SequentialReader(files, image_size=32, batch_size=2)
  for _ in range(3):  # crosses an epoch boundary
    batch = next(reader)
    assert batch.shape == (2, 32, 32, 3) and batch.dtype == np.float32
    assert 0 <= batch.min() and batch.max() <= 255 and batch.std() > 0


def test_python_feed_trains_on_the_batch_just_read():
  """Nothing may read ahead: step i must see batch i, not i - 1."""
  batches = iter([np.full((2, 4, 4, 3), i, np.float32) for i in range(1, 5)])
  trainer = _SumTrainer()
  feed = input_timing.PythonFeed(batches, trainer, image_size=4, batch_size=2)
  waits = [feed() for _ in range(4)]
  assert trainer.seen == [96.0 * i for i in range(1, 5)]
  assert all(w >= 0 for w in waits)


def test_graph_feed_takes_batches_in_order_and_times_the_wait():
  def batch(i):
    return tf.fill([1, 2, 2, 3], tf.cast(i, tf.float32))
  dataset = tf.data.Dataset.range(1, 4).map(batch)
  trainer = _SumTrainer()
  feed = input_timing.GraphFeed(dataset, trainer)
  waits = [feed() for _ in range(3)]
  assert trainer.seen == [12.0, 24.0, 36.0]
  assert all(0 <= w < 10 for w in waits)


def test_paired_runs_alternate_and_take_ratios_within_pairs():
  calls = []

  def run(kind, fps):
    def fn():
      calls.append(kind)
      return dict(fps=fps, cpu_ms_per_frame=1000 / fps, children_cpu_ms_per_frame=0.0)
    return fn

  result = video_timing.paired_runs(3, run("model", 10.0), run("e2e", 8.0))
  assert calls == ["model", "e2e", "e2e", "model", "model", "e2e"]
  assert result["wall_ratio"] == 0.8 and result["cpu_ratio"] == 0.8


def test_markdown_table_and_json(tmp_path):
  table = reporting.markdown_table(["a", "b"], [["x", 1.23456], ["y", 2]])
  assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 1.235 |", "| y | 2 |"]
  path = reporting.write_json(str(tmp_path / "r.json"), {"value": 1})
  with open(path) as f:
    written = json.load(f)
  assert written["value"] == 1 and "load_average_at_end" in written["machine"]


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_op_profile_times_each_op_type_of_a_saved_model(small_exports):
  path = small_exports.saved_model
  image = np.random.default_rng(0).integers(0, 256, (16, 24, 3), np.uint8)
  profile = op_profile.saved_model_op_times(path, image, rounds=2, threads=1)
  convolutions = [op for op in profile["ops"] if "Conv2D" in op]
  assert convolutions and all(profile["ops"][op] > 0 for op in convolutions)
  assert profile["op_runs"] > 10 and profile["plain_ms"] > 0 and profile["traced_ms"] > 0
