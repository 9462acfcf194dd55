"""Timing video stylization: end to end (decode, model, encode) and each part alone.

Shared by experiments/bench_video.py and experiments/device_scaling.py. The clip is a camera
pan over a scikit-image photo, the model a freshly built (untrained) render network exported
as a SavedModel: the model's speed does not depend on its weights.

Every measurement returns frames/s and CPU milliseconds per frame, counted for this process
(all its threads) and for its finished children (ffmpeg). Wall time swings widely here when
other jobs load the machine; CPU time hardly does, so it shows what each part costs, and
on an idle machine whose cores all stay busy, wall time follows it.
"""

import contextlib
import os
import statistics
import time

import numpy as np
from PIL import Image

from fastchi_tf import samples
from fastchi_tf import build_render_net
from fastchi_tf import export
from fastchi_tf import stylize
from fastchi_tf import video
from fastchi_tf import video_io


def make_test_clip(path, width=640, height=360, frames=48, fps=30):
  """An H.264 pan over scikit-image's photo, no audio; returns its VideoInfo."""
  photo = np.asarray(Image.open(samples.skimage_path(samples.CLIP_PHOTO)).convert("RGB"))
  samples.make_clip(path, samples.pan_frames(photo, width, height, frames), fps)
  return video_io.probe(path)


def export_stylizer(folder, variant="inception", width=16, shrink=2):
  """Exports an untrained render network as a SavedModel and loads it as a Stylizer."""
  path = os.path.join(folder, export.SAVED_MODEL)
  export.export_saved_model(build_render_net(variant, width, shrink), path)
  return stylize.load_stylizer(path)


def decoded_frames(info):
  return list(video_io.read_frames(info))


@contextlib.contextmanager
def timing(rates, frames=None):
  """Fills the dict `rates` with fps and CPU ms per frame of the block's work.

  `frames` is the number of frames processed; if None, the block sets rates["frames"].
  """
  t0, start = os.times(), time.perf_counter()
  yield rates
  seconds, t1 = time.perf_counter() - start, os.times()
  frames = frames or rates.pop("frames")
  own = t1.user - t0.user + t1.system - t0.system
  children = t1.children_user - t0.children_user + t1.children_system - t0.children_system
  rates.update(fps=frames / seconds, cpu_ms_per_frame=1e3 * (own + children) / frames,
               own_cpu_ms_per_frame=1e3 * own / frames,
               children_cpu_ms_per_frame=1e3 * children / frames)


def e2e(stylizer, clip, output, devices, batch_size=4, preset="medium"):
  """video.stylize_video file to file, as tools/stylize_video.py runs it."""
  with timing({}) as rates:
    result = video.stylize_video(clip, output, video.frame_function(stylizer), devices,
                                 batch_size=batch_size, preset=preset, progress=False)
    rates["frames"] = result["frames"]
  rates["frames_per_device"] = result["frames_per_device"]
  return rates


def model_only(stylizer, frames, batch_size=4):
  """Stylizer.batch alone on frames already in memory, one device."""
  batches = list(video.batches_of(frames, batch_size))
  with timing({}, len(frames)) as rates:
    for batch in batches:
      stylizer.batch(batch)
  return rates


def decode_only(info):
  """video_io.read_frames alone (ffmpeg decoding into numpy)."""
  with timing({}) as rates:
    rates["frames"] = sum(1 for _ in video_io.read_frames(info))
  return rates


def encode_only(frames, info, output, preset="medium", crf=18):
  """video_io.VideoWriter alone (frames piped to ffmpeg's libx264); adds KiB per frame."""
  with timing({}, len(frames)) as rates:
    writer = video_io.VideoWriter(output, info, crf=crf, preset=preset)
    for frame in frames:
      writer.write(frame)
    writer.close()
  rates["kib_per_frame"] = os.path.getsize(output) / 1024 / len(frames)
  return rates


def paired_runs(pairs, model_run, e2e_run):
  """Alternates model-only and end-to-end runs; returns the runs and medians of the ratios."""
  runs = []
  for i in range(pairs):
    if i % 2:  # flip the order, so a trend in the machine's load favours neither
      e2e = e2e_run()
      runs.append((model_run(), e2e))
    else:
      model = model_run()
      runs.append((model, e2e_run()))
  return dict(
      model=[m for m, _ in runs], e2e=[e for _, e in runs],
      model_fps=statistics.median([m["fps"] for m, _ in runs]),
      e2e_fps=statistics.median([e["fps"] for _, e in runs]),
      model_cpu_ms=statistics.median([m["cpu_ms_per_frame"] for m, _ in runs]),
      e2e_cpu_ms=statistics.median([e["cpu_ms_per_frame"] for _, e in runs]),
      ffmpeg_cpu_ms=statistics.median([e["children_cpu_ms_per_frame"] for _, e in runs]),
      wall_ratio=statistics.median([e["fps"] / m["fps"] for m, e in runs]),
      cpu_ratio=statistics.median([m["cpu_ms_per_frame"] / e["cpu_ms_per_frame"]
                                   for m, e in runs]))
