"""How long a training loop waits for each batch: FastChi's sequential reader vs tf.data.

Shared by experiments/reading_speed.py and experiments/bench_input.py. Each iteration gets
a batch (timed: the wait) and runs one real training step, Trainer.run_steps(iterator, 1), of
the inception render network with the offline HED VGG16 loss; so a reader that prefetches
while the step runs is credited for the overlap, and one whose threads compete with the step
for the CPU is charged through a longer step. Readers:
  sequential: FastChi's original input, a Python loop in the training thread that reads files
    with PIL one after another, crops, resizes and stacks them (wait timed in Python);
  tf.data: data.folder_dataset, the pipeline train_lib uses (parallel decode + prefetch),
    taken by the compiled loop as in training (wait timed in the graph, around next());
  in-memory: one batch repeated from memory, the same way: the step with no reading at all.
The training photos are COCO-like JPEGs (640 pixels on the longer side, as COCO train2014's)
made from scikit-image's photos. They sit in the page cache after the first epoch, as a
small dataset would; a cold disk would slow the sequential reader, not the prefetched one.
"""

import dataclasses
import os
import tempfile
import time

import numpy as np
from PIL import Image
import tensorflow as tf

from experiments.lib import reporting
from experiments.lib import training
from fastchi_tf import data
from fastchi_tf import samples

PHOTO_SIDE = 640  # COCO train2014 images are about 640 x 480
READERS = ("sequential", "tf.data", "in-memory")


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """What `measure_on_photos` times: training loops of `steps` steps on crops of
  `image_size`, batch `batch_size`, `runs` times per reader."""
  image_size: int = 256
  batch_size: int = 4
  runs: int = 3
  steps: int = 10  # per run and reader


def make_photo_folder(folder, count=48, side=PHOTO_SIDE, quality=90):
  """Writes `count` JPEGs (longer side `side`) made from scikit-image's photos; returns them."""
  os.makedirs(folder, exist_ok=True)
  files = []
  for i in range(count):
    name = samples.TRAIN_PHOTOS[i % len(samples.TRAIN_PHOTOS)]
    with Image.open(samples.skimage_path(name)) as photo:
      image = photo.convert("RGB")
    scale = side / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.LANCZOS)
    if (i // len(samples.TRAIN_PHOTOS)) % 2:  # a mirrored copy, so repeats are new files
      image = image.transpose(Image.FLIP_LEFT_RIGHT)
    path = os.path.join(folder, f"{i:04d}.jpg")
    image.save(path, quality=quality)
    files.append(path)
  return files


class SequentialReader:
  """FastChi's original input: the training thread reads a batch, file after file.

  PIL decodes each file; a random square of the shorter side is cut and resized with a box
  filter (the pipeline's area resize) to `image_size`; the batch is float32 in [0, 255].
  """

  def __init__(self, files, image_size, batch_size, seed=0):
    self.files, self.image_size, self.batch_size = list(files), image_size, batch_size
    self._rng = np.random.default_rng(seed)
    self._order = self._rng.permutation(len(self.files))
    self._position = 0

  def __iter__(self):
    return self

  def __next__(self):
    return np.stack([self._read(self._next_file()) for _ in range(self.batch_size)])

  def _next_file(self):
    if self._position == len(self._order):
      self._order = self._rng.permutation(len(self.files))
      self._position = 0
    self._position += 1
    return self.files[self._order[self._position - 1]]

  def _read(self, path):
    with Image.open(path) as image:
      image = image.convert("RGB")
    side = min(image.size)
    left = int(self._rng.integers(0, image.width - side + 1))
    top = int(self._rng.integers(0, image.height - side + 1))
    crop = image.resize((self.image_size, self.image_size), Image.BOX,
                        box=(left, top, left + side, top + side))
    return np.asarray(crop, np.float32)


def make_reader(kind, files, image_size, batch_size, seed=0):
  """An endless iterator of float32 [batch, size, size, 3] batches; `kind` from READERS."""
  if kind == "sequential":
    return SequentialReader(files, image_size, batch_size, seed)
  return iter(make_dataset(kind, files, image_size, batch_size, seed))


def make_dataset(kind, files, image_size, batch_size, seed=0):
  """The tf.data.Dataset behind the "tf.data" and "in-memory" readers."""
  if kind == "tf.data":
    return data.folder_dataset(files, image_size=image_size, global_batch=batch_size, seed=seed)
  if kind == "in-memory":
    batch = next(SequentialReader(files, image_size, batch_size, seed))
    return tf.data.Dataset.from_tensors(batch).repeat()
  raise ValueError(f"no dataset for reader {kind!r}; choose one of {READERS}")


def reader_rate(reader, batch_size, batches, warmup=3):
  """Images per second of a reader alone (nothing else running in the process)."""
  for _ in range(warmup):
    next(reader)
  start = time.perf_counter()
  for _ in range(batches):
    next(reader)
  return batches * batch_size / (time.perf_counter() - start)


class PythonFeed:
  """FastChi's loop: the training thread reads a batch, then trains on it.

  Trainer.run_steps pulls its batch from a tf.data iterator inside its compiled loop; this
  iterator yields whatever was last assigned to a variable, so the batch a Python reader
  returned is trained on by the real compiled step.
  """

  def __init__(self, reader, trainer, image_size, batch_size):
    self.reader, self.trainer = reader, trainer
    self._batch = tf.Variable(tf.zeros([batch_size, image_size, image_size, 3]),
                              trainable=False)
    options = tf.data.Options()
    # Nothing may read ahead: each element must be read after its batch was assigned.
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    self._iterator = iter(tf.data.Dataset.from_tensors(0).repeat()
                          .map(lambda _: self._batch.read_value()).with_options(options))

  def __call__(self):
    """Runs one iteration; returns the seconds spent waiting for the batch."""
    start = time.perf_counter()
    batch = next(self.reader)
    wait = time.perf_counter() - start
    self._batch.assign(batch)
    self.trainer.run_steps(self._iterator, 1)
    return wait


class _TimedIterator:
  """A tf.data iterator whose next(), traced into a compiled loop, records how long it took."""

  def __init__(self, iterator):
    self._iterator = iterator
    self.wait = tf.Variable(0.0, dtype=tf.float64, trainable=False)

  def __iter__(self):
    return self

  def __next__(self):
    start = tf.timestamp()
    with tf.control_dependencies([start]):
      batch = next(self._iterator)
    with tf.control_dependencies([batch]):
      end = tf.timestamp()
    self.wait.assign(end - start)
    return batch


class GraphFeed:
  """The real training loop: Trainer.run_steps takes each batch from a dataset's iterator
  inside its compiled loop, where the wait is timed (no Python in between)."""

  def __init__(self, dataset, trainer):
    self.trainer = trainer
    self._iterator = _TimedIterator(iter(dataset))

  def __call__(self):
    """Runs one iteration; returns the seconds spent waiting for the batch."""
    self.trainer.run_steps(self._iterator, 1)
    return float(self._iterator.wait.numpy())


def make_feed(kind, files, trainer, image_size, batch_size, seed=0):
  """A callable running one training iteration fed by reader `kind`, returning its wait."""
  if kind == "sequential":
    return PythonFeed(SequentialReader(files, image_size, batch_size, seed), trainer,
                      image_size, batch_size)
  return GraphFeed(make_dataset(kind, files, image_size, batch_size, seed), trainer)


def time_loop(feed, steps):
  """Runs `steps` iterations of `feed`.

  Returns:
    dict of per-iteration seconds: "wait" for the batch, "train" (the rest of the iteration).
  """
  waits, trains = [], []
  for _ in range(steps):
    start = time.perf_counter()
    wait = feed()
    waits.append(wait)
    trains.append(time.perf_counter() - start - wait)
  return dict(wait=waits, train=trains)


def summarize_run(run):
  wait, train = np.array(run["wait"]), np.array(run["train"])
  return dict(mean_wait_s=float(wait.mean()), median_wait_s=float(np.median(wait)),
              median_train_s=float(np.median(train)),
              median_iteration_s=float(np.median(wait + train)),
              wait_fraction=float(wait.sum() / (wait + train).sum()))


def measure(files, image_size, batch_size, readers, runs, steps, write_dir, warmup=3,
            log=print):
  """Times the training loop fed by each reader; runs interleave so load changes hit all.

  Returns:
    {reader: {"runs": [time_loop dicts], "warmup_waits_s": the first iterations' waits
    (tracing, a fresh pipeline's start-up), "summary": medians over runs of summarize_run}}.
  """
  trainer = training.build_trainer(write_dir, image_size, batch_size)
  feeds = {kind: make_feed(kind, files, trainer, image_size, batch_size) for kind in readers}
  results = {kind: dict(warmup_waits_s=time_loop(feeds[kind], warmup)["wait"], runs=[])
             for kind in readers}
  for r in range(runs):
    for kind in readers:
      run = time_loop(feeds[kind], steps)
      results[kind]["runs"].append(run)
      s = summarize_run(run)
      log(f"run {r + 1}/{runs} {kind:>10}: wait {1e3 * s['mean_wait_s']:.2f} ms/batch, "
          f"iteration {s['median_iteration_s']:.3f} s, waiting {100 * s['wait_fraction']:.2f}%")
  for kind in readers:
    per_run = [summarize_run(run) for run in results[kind]["runs"]]
    results[kind]["summary"] = {k: reporting.median([s[k] for s in per_run])
                                for k in per_run[0]}
  return results


def measure_on_photos(cfg, readers, with_files=None):
  """`measure` on a temporary folder of generated photos with a LoopConfig (or an
  experiment's Config derived from it); `with_files(files)`, if given, runs on the same
  photos first. Returns (measure's results, with_files' result)."""
  with tempfile.TemporaryDirectory() as tmp:
    files = make_photo_folder(os.path.join(tmp, "photos"))
    extra = with_files(files) if with_files else None
    results = measure(files, cfg.image_size, cfg.batch_size, readers, cfg.runs, cfg.steps,
                      os.path.join(tmp, "run"))
  return results, extra
