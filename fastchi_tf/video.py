"""Stylizing a video with its frames spread over devices: a reader, one worker per device,
and a writer that puts the frames back in order.

FastChi cut a video into one contiguous part per GPU and dropped the frames left over. Here
batches of consecutive frames go to whichever device is free, and bounded queues keep memory
flat however long the video is, while decoding, compute and encoding overlap.
"""

import functools
import queue
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from fastchi_tf.light import io_utils
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf import video_io
from fastchi_tf.progress import Progress

_DONE = object()  # end of stream marker on the queues
# uint8 [b, h, w, 3] -> uint8 [b, h, w, 3]: what a worker does to one batch of frames.
FrameFunction = Callable[[np.ndarray], np.ndarray]


class _Stopped(Exception):
  """Raised in a helper thread when another thread failed or the user pressed Ctrl-C."""


def _put(q, item, stop):
  while True:
    if stop.is_set():
      raise _Stopped
    try:
      q.put(item, timeout=0.1)
      return
    except queue.Full:
      pass


def _get(q, stop):
  while True:
    if stop.is_set():
      raise _Stopped
    try:
      return q.get(timeout=0.1)
    except queue.Empty:
      pass


def batches_of(frames: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
  """Groups an iterable of same-size frames into uint8 [b, h, w, 3] arrays."""
  batch = []
  try:
    for frame in frames:
      batch.append(frame)
      if len(batch) == batch_size:
        yield np.stack(batch)
        batch = []
    if batch:
      yield np.stack(batch)
  finally:
    if hasattr(frames, "close"):  # stopping early stops the decoder's ffmpeg now
      frames.close()


def run_pipeline(batches: Iterable[np.ndarray], workers: Sequence[FrameFunction],
                 write: Callable[[np.ndarray, int], None],
                 max_in_flight: Optional[int] = None) -> list[int]:
  """Applies the worker functions to `batches` in parallel and calls `write` in order.

  Args:
    batches: an iterable of frame arrays, read by one reader thread.
    workers: one callable per device, each mapping a batch to its output batch; each runs in
      its own thread, taking the next batch whenever it is free.
    write: called in the main thread with (output batch, worker index), in input order.
    max_in_flight: batches read but not yet written; bounds memory (default 2 per worker + 2).

  Returns:
    The number of batches each worker processed.
  """
  max_in_flight = max_in_flight or 2 * len(workers) + 2
  stop = threading.Event()
  slots = threading.Semaphore(max_in_flight)
  inbox, outbox = queue.Queue(max_in_flight), queue.Queue()
  errors = []

  def read():
    try:
      source, index = iter(batches), 0
      while True:
        while not slots.acquire(timeout=0.1):  # take a slot before reading, not after
          if stop.is_set():
            raise _Stopped
        batch = next(source, _DONE)
        if batch is _DONE:
          break
        _put(inbox, (index, batch), stop)
        index += 1
      for _ in workers:
        _put(inbox, _DONE, stop)
    except _Stopped:
      pass
    except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
      errors.append(e)
      stop.set()
    finally:
      if hasattr(batches, "close"):  # stops the decoder's ffmpeg when we stop early
        batches.close()

  def work(k, fn):
    try:
      while (item := _get(inbox, stop)) is not _DONE:
        index, batch = item
        outbox.put((index, k, fn(batch)))
      outbox.put(_DONE)
    except _Stopped:
      pass
    except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
      errors.append(e)
      stop.set()

  threads = [threading.Thread(target=read, name="reader", daemon=True)]
  threads += [threading.Thread(target=work, args=(k, fn), name=f"worker{k}", daemon=True)
              for k, fn in enumerate(workers)]
  for thread in threads:
    thread.start()
  counts = [0] * len(workers)
  pending, next_index, finished = {}, 0, 0
  try:
    while finished < len(workers):
      item = _get(outbox, stop)
      if item is _DONE:
        finished += 1
        continue
      index, k, out = item
      pending[index] = (out, k)
      while next_index in pending:
        out, k = pending.pop(next_index)
        write(out, k)
        counts[k] += 1
        next_index += 1
        slots.release()
  except _Stopped:
    pass
  finally:
    stop.set()  # on success a no-op for finished threads; on error or Ctrl-C stops them
    # A worker finishes its current batch before it sees `stop`; wait for that, not longer.
    deadline = time.monotonic() + 30
    for thread in threads:
      thread.join(timeout=max(0.0, deadline - time.monotonic()))
  if errors:
    raise errors[0]
  return counts


def video_devices(count: Optional[int] = None) -> list[str]:
  """The first `count` GPUs, or the logical CPU devices when there are no GPUs."""
  gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
  found = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
  if count is None:
    return found
  if count > len(found):
    kind = "GPUs" if gpus else "CPU devices (split the CPU with --cpu_devices)"
    raise video_io.VideoError(f"--devices {count} asks for more devices than the "
                              f"{len(found)} {kind} found")
  return found[:count]


def frame_function(stylizer: stylizers.Stylizer, keep_color: bool = False,
                   tile: Optional[int] = None) -> FrameFunction:
  """uint8 [b, h, w, 3] -> uint8 [b, h, w, 3] for one device, as tools/stylize.py would do."""
  def process(frames):
    if tile:
      return np.stack([stylize.stylize_image(stylizer, f, keep_color=keep_color, tile=tile)
                       for f in frames])
    return np.stack(stylize.stylize_batch(stylizer, list(frames), keep_color, tile))
  return process


def frame_functions(model_path: str, count: int, keep_color: bool = False,
                    tile: Optional[int] = None, mixed_precision: bool = False,
                    style: str = "", strength: float = 1.0, num_threads: Optional[int] = None
                    ) -> Tuple[list[FrameFunction], stylizers.Stylizer]:
  """One frame function per worker, each in `style` at `strength` (Stylizer.set_style).
  TensorFlow models are shared (their calls are thread-safe); a TFLite interpreter is not,
  so each worker gets its own, of `num_threads` (None: every core)."""
  first = stylizers.load_stylizer(model_path, mixed_precision, num_threads,
                                  frames=True).set_style(style, strength)
  loaded = [first] + [
      stylizers.load_stylizer(model_path, num_threads=num_threads, frames=True).set_style(
          style, strength)
      if model_path.endswith(".tflite") else first for _ in range(count - 1)]
  return [frame_function(s, keep_color, tile) for s in loaded], first


def on_device(fn: FrameFunction, device: str) -> FrameFunction:
  def run(batch):
    with tf.device(device):
      out = fn(batch)
    if out.shape != batch.shape:  # a frame lost or added here would shift the whole video
      raise video_io.VideoError(f"the model returned frames of shape {out.shape} for "
                                f"{batch.shape}")
    return out
  return run


def stylize_video(input_path: str, output_path: str,
                  frame_fn: FrameFunction | Sequence[FrameFunction], devices: Sequence[str],
                  batch_size: int = 4, max_frames: Optional[int] = None, crf: int = 18,
                  preset: str = "veryfast", progress: bool = True,
                  stabilize: float = 0.0) -> Dict[str, Any]:
  """Stylizes a video file into `output_path`, which appears only once it is complete.

  Args:
    frame_fn: uint8 [b, h, w, 3] -> uint8 [b, h, w, 3], run once per batch under tf.device;
      or a list of them, one per device.
    devices: device names, one worker thread each.
    stabilize: blend each output frame with the previous one carried by the input's flow
      (stabilize.Stabilizer's strength, in [0, 1)); 0 writes the frames as stylized. The
      blend runs in order in the writing thread while the devices stylize what follows.

  Returns:
    dict with the source's VideoInfo, frames written, seconds, frames per device, and whether
    the source's rate was variable (each frame then kept at its own time).
  """
  info = video_io.probe(input_path)
  video_io.check_output(input_path, output_path)
  frame_fns = frame_fn if isinstance(frame_fn, (list, tuple)) else [frame_fn] * len(devices)
  created = video_io.prepare_output(output_path)
  try:
    return _stylize_video(info, output_path, frame_fns, devices, batch_size, max_frames, crf,
                          preset, progress, stabilize)
  except BaseException:
    io_utils.remove_empty(created)  # a failed run leaves no new empty folders either
    raise


def _stylize_video(info, output_path, frame_fns, devices, batch_size, max_frames, crf, preset,
                   progress, stabilize):
  # The header gives only a duration, so the count is an estimate (audio or a variable rate
  # can make it a frame off or more) until the last frame; the final line has the true count.
  total = min(info.expected_frames or 0, max_frames or float("inf")) or max_frames or 0
  bar = Progress(total, label="frames", unit="frames", estimate=True) if progress else None
  per_device = [0] * len(devices)
  start = time.monotonic()
  # A variable-rate source (a phone's) keeps each frame's time; played at the average rate
  # instead, a clip of 13.71 frames/s on average lost its timing.
  times = video_io.frame_times(info, max_frames)
  variable = times.increasing() and not times.constant(info.fps)
  workers = [on_device(fn, d) for fn, d in zip(frame_fns, devices)]
  stabilizer = None
  if stabilize:
    from fastchi_tf import stabilize as stabilize_lib  # (OpenCV: only this option needs it)
    stabilizer = stabilize_lib.Stabilizer(stabilize)
    # Each worker hands on its input frames too: the blend follows their flow.
    workers = [functools.partial(_with_inputs, fn) for fn in workers]
  with io_utils.atomic_path(output_path) as tmp:
    writer = video_io.VideoWriter(tmp, info, crf=crf, preset=preset,
                                  num_frames=max_frames, times=times if variable else None)
    try:
      def write(batch, k):
        if stabilizer:
          inputs, batch = batch
          batch = [stabilizer(i, o) for i, o in zip(inputs, batch)]
        for frame in batch:
          writer.write(frame)
        per_device[k] += len(batch)
        if bar:
          bar.update(writer.frames)
      run_pipeline(batches_of(video_io.read_frames(info, max_frames), batch_size), workers,
                   write)
    except BaseException:
      writer.abort()
      raise
    writer.close()
    if bar:
      bar.finish()
  return dict(info=info, frames=writer.frames, seconds=time.monotonic() - start,
              frames_per_device=dict(zip(devices, per_device)), variable_rate=variable,
              scene_cuts=stabilizer.cuts if stabilizer else None)


def _with_inputs(fn, batch):
  return batch, fn(batch)
