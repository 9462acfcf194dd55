import os
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf.light import io_utils
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf import video
from fastchi_tf import video_io
from fixtures_models import keras_model_path  # noqa: F401  (fixtures)
from fixtures_models import small_exports  # noqa: F401
import video_clips


def _slow_identity(delays):
  """A worker that returns its batch after a per-worker delay, so workers finish out of order."""
  def make(k):
    def fn(batch):
      time.sleep(delays[k])
      return batch
    return fn
  return [make(k) for k in range(len(delays))]


def test_pipeline_keeps_order_and_uses_every_worker():
  batches = (np.full((2, 1, 1, 3), i, np.uint8) for i in range(30))
  written = []
  counts = video.run_pipeline(batches, _slow_identity([0.003, 0.011]),
                              lambda out, k: written.append(int(out[0, 0, 0, 0])))
  assert written == list(range(30))
  assert sum(counts) == 30 and min(counts) > 0


def test_pipeline_bounds_the_batches_in_flight():
  alive, peak, lock = set(), [0], threading.Lock()

  def batches():
    for i in range(40):
      with lock:
        alive.add(i)
        peak[0] = max(peak[0], len(alive))
      yield np.full((1,), i)

  def write(out, k):
    time.sleep(0.002)  # a slow encoder: the reader must wait, not pile up frames
    with lock:
      alive.discard(int(out[0]))

  video.run_pipeline(batches(), _slow_identity([0, 0]), write, max_in_flight=5)
  assert peak[0] <= 5


def test_pipeline_raises_a_worker_error_and_stops_reading():
  read = []

  def batches():
    for i in range(1000):
      read.append(i)
      yield np.zeros((1,))

  def broken(batch):
    raise ValueError("worker broke")

  with pytest.raises(ValueError, match="worker broke"):
    video.run_pipeline(batches(), [broken, broken], lambda out, k: None)
  assert len(read) < 20


def test_frames_keep_their_index_through_two_devices(tmp_path):
  """Each frame's index is drawn into it; 2 logical CPU devices; indices read back in order."""
  source = video_clips.indexed_clip(tmp_path / "in.mp4", 45)
  devices = video.video_devices(2)
  assert devices == ["/device:CPU:0", "/device:CPU:1"]
  placed = []

  def on_device_identity(frames):
    out = tf.identity(tf.constant(frames))  # placed by the worker's tf.device scope
    placed.append(out.device)
    return out.numpy()

  out_path = str(tmp_path / "out.mp4")
  result = video.stylize_video(source, out_path, on_device_identity, devices, batch_size=2,
                               progress=False)
  frames = list(video_io.read_frames(video_io.probe(out_path)))
  assert [video_clips.read_index(f) for f in frames] == list(range(45))
  assert result["frames"] == 45 and sum(result["frames_per_device"].values()) == 45
  assert not result["variable_rate"]
  assert {d.split("/")[-1] for d in placed} == {"device:CPU:0", "device:CPU:1"}


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_stabilize_blends_along_the_flow_in_order_across_devices(tmp_path):
  from fastchi_tf import flicker  # pylint: disable=g-import-not-at-top
  # A slow pan (6-10 px a frame), which the flow follows.
  source = video_clips.pan_clip(tmp_path / "in.mp4", 384, 288, 24, 24, audio=False)

  def flickering(frames):
    # Noise that depends on the frame, not on the worker: both runs see the same frames.
    return np.stack([np.clip(255.0 - f + np.random.default_rng(int(f.sum())).normal(
        0.0, 20.0, f.shape), 0, 255).astype(np.uint8) for f in frames])

  errors = {}
  for strength in (0.0, 0.7):
    out_path = str(tmp_path / f"out{strength}.mp4")
    result = video.stylize_video(source, out_path, flickering, video.video_devices(2),
                                 batch_size=2, crf=0, progress=False, stabilize=strength)
    assert result["frames"] == 24
    assert result["scene_cuts"] == (0 if strength else None)
    errors[strength] = flicker.measure_files(source, out_path)["output"]["warping_error"]
  assert errors[0.7] < 0.6 * errors[0.0]


def test_a_variable_rate_video_keeps_each_frames_time_and_its_audio(tmp_path):
  # A phone's variable-rate clip came out at a constant 13.71 frames/s, its average.
  durations = [0.04, 0.2, 0.08, 0.12, 0.04, 0.28, 0.08, 0.16]
  source = video_clips.irregular_clip(tmp_path / "in.mp4", durations, audio=True)
  times = video_clips.seconds(video_io.frame_times(video_io.probe(source)))
  assert len(set(b - a for a, b in zip(times, times[1:]))) > 3  # variable indeed
  devices = video.video_devices(2)
  for max_frames in (None, 5):
    out_path = str(tmp_path / f"out{max_frames}.mp4")
    result = video.stylize_video(source, out_path, lambda frames: frames, devices,
                                 batch_size=2, max_frames=max_frames, progress=False)
    assert result["variable_rate"]
    out = video_io.probe(out_path)
    assert video_clips.seconds(video_io.frame_times(out)) == times[:max_frames]
    assert [video_clips.read_index(f, bits=5) for f in video_io.read_frames(out)] == list(
        range(max_frames or len(durations)))
    assert out.audio_codec == "aac"
    # All of the audio, or cut where the 5th frame ends.
    end = video_io.probe(source).duration if max_frames is None else sum(durations[:5])
    assert abs(out.duration - end) < 0.05, (out.duration, end)


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_stylize_video_with_a_saved_model_matches_per_frame_stylizing(tmp_path,
                                                                      small_exports):
  stylizer = stylizers.load_stylizer(small_exports.saved_model)
  # An odd width: 4:4:4 chroma, so crf 0 is lossless in YUV (4:2:0 would blur the colours).
  source = video_clips.pan_clip(tmp_path / "in.mp4", 41, 32, 6, 24, audio=False)
  out_path = str(tmp_path / "out.mp4")
  video.stylize_video(source, out_path, video.frame_function(stylizer),
                      video.video_devices(2), batch_size=4, crf=0, progress=False)
  decoded_in = list(video_io.read_frames(video_io.probe(source)))
  # As tools/stylize.py would do each frame (small frames are rendered enlarged).
  expected = np.stack(stylize.stylize_batch(stylizer, decoded_in)).astype(int)
  got = np.stack(list(video_io.read_frames(video_io.probe(out_path)))).astype(int)
  # Only the RGB -> YUV -> RGB round trip differs: a level or two.
  assert np.abs(got - expected).mean() < 2.0


def test_a_failed_run_leaves_no_file(tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 32, 32, 10, 24)
  calls = []

  def fails_on_third(frames):
    calls.append(1)
    if len(calls) == 3:
      raise RuntimeError("out of memory")
    return frames

  with pytest.raises(RuntimeError, match="out of memory"):
    video.stylize_video(source, str(tmp_path / "out.mp4"), fails_on_third, ["/cpu:0"],
                        batch_size=1, progress=False)
  assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_tflite_workers_get_their_own_interpreter_and_agree(tmp_path, small_exports):
  fns, first = video.frame_functions(small_exports.tflite, 2)
  assert fns[0] is not fns[1]
  # Frames keep XNNPACK's pointer tables between calls (a photo's one call does not).
  assert first._fn._transient is False  # pylint: disable=protected-access
  assert stylizers.load_stylizer(small_exports.tflite)._fn._transient  # pylint: disable=protected-access
  source = video_clips.pan_clip(tmp_path / "in.mp4", 41, 32, 12, 24, audio=False)
  out_path = str(tmp_path / "out.mp4")
  video.stylize_video(source, out_path, fns, video.video_devices(2), batch_size=1, crf=0,
                      progress=False)
  decoded_in = list(video_io.read_frames(video_io.probe(source)))
  expected = np.stack(stylize.stylize_batch(first, decoded_in)).astype(int)
  got = np.stack(list(video_io.read_frames(video_io.probe(out_path)))).astype(int)
  assert np.abs(got - expected).mean() < 2.0


def test_every_audio_track_is_kept_and_the_output_is_readable_by_others(tmp_path):
  source = video_clips.with_two_audio_tracks(
      video_clips.pan_clip(tmp_path / "one.mp4", 32, 32, 10, 24), tmp_path / "two.mp4")
  assert len(video_io.probe(source).audio_codecs) == 2
  out_path = str(tmp_path / "new" / "deeper" / "out.mp4")
  video.stylize_video(source, out_path, lambda f: f, ["/cpu:0"], progress=False)
  assert len(video_io.probe(out_path).audio_codecs) == 2
  umask = os.umask(0o022)
  os.umask(umask)
  assert os.stat(out_path).st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_run_removes_the_folders_it_made(tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 32, 32, 4, 24, audio=False)

  def drops_a_frame(frames):
    return frames[1:]

  with pytest.raises(video_io.VideoError, match="returned frames of shape"):
    video.stylize_video(source, str(tmp_path / "new" / "out.mp4"), drops_a_frame, ["/cpu:0"],
                        progress=False)
  assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def _output_spellings(tmp_path, source):
  """(input, output) pairs where the output names the input, however spelled."""
  (tmp_path / "sub").mkdir()
  link = tmp_path / "link.mp4"
  link.symlink_to(source)
  out_link = tmp_path / "out_link.mp4"
  out_link.symlink_to(source)
  hard = tmp_path / "hard.mp4"
  os.link(source, hard)
  return {"symlink input, real file output": (str(link), source),
          "symlink output": (source, str(out_link)),
          "dir/../name": (source, str(tmp_path / "sub" / ".." / "in.mp4")),
          "missing/../name": (source, str(tmp_path / "missing" / ".." / "in.mp4")),
          "hard link": (source, str(hard))}


def test_an_output_naming_the_input_is_refused_however_spelled(tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 32, 32, 2, 24, audio=False)
  original = open(source, "rb").read()
  calls = []
  for name, (src, out) in _output_spellings(tmp_path, source).items():
    with pytest.raises(ValueError, match="same file|does not exist"):
      video.stylize_video(src, out, lambda f: calls.append(1) or f, ["/cpu:0"], progress=False)
    assert open(source, "rb").read() == original, name
  assert not calls
  # Another case is another file on a case-sensitive file system, the same file otherwise.
  upper = str(tmp_path / "IN.MP4")
  try:
    video.stylize_video(source, upper, lambda f: f, ["/cpu:0"], progress=False)
    assert not os.path.samefile(source, upper)
  except io_utils.OverwriteError:
    pass
  assert open(source, "rb").read() == original


def test_an_unwritable_output_fails_before_any_frame_naming_it(tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 32, 32, 2, 24, audio=False)
  calls = []
  # /proc takes no new files, even for root (whom permission bits do not stop).
  for out in ("/proc/x.mp4", str(tmp_path / "in.mp4" / "x.mp4")):
    with pytest.raises(video_io.VideoError, match=f"cannot write {out}"):
      video.stylize_video(source, out, lambda f: calls.append(1) or f, ["/cpu:0"],
                          progress=False)
  assert not calls and sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_the_progress_total_is_an_estimate_until_the_last_frame(tmp_path, capsys):
  # 10 frames with a second, 1 s audio track: the header's duration suggests 24 frames.
  source = video_clips.with_two_audio_tracks(
      video_clips.pan_clip(tmp_path / "one.mp4", 32, 32, 10, 24), tmp_path / "two.mp4")
  assert video_io.probe(source).expected_frames == 24
  video.stylize_video(source, str(tmp_path / "out.mp4"), lambda f: f, ["/cpu:0"])
  lines = [l.split(" [")[0] for l in capsys.readouterr().err.splitlines()
           if l.startswith("frames ")]
  assert len(lines) >= 2 and all("/~" in l for l in lines[:-1]), lines
  assert lines[-1] == "frames 10/10"


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_tiled_frames_over_two_devices_equal_one_device(tmp_path, keras_model_path):
  # Threads of both devices tile with one shared Keras model at once; each frame must keep
  # its own whole-image statistics (they were attributes of shared layers once).
  model_path = keras_model_path
  source = video_clips.pan_clip(tmp_path / "in.mp4", 161, 120, 6, 24, audio=False)
  frames = {}
  for count in (1, 2):
    out_path = str(tmp_path / f"out{count}.mp4")
    fns, _ = video.frame_functions(model_path, count, tile=64)
    video.stylize_video(source, out_path, fns, video.video_devices(count), batch_size=1,
                        crf=0, progress=False)
    frames[count] = list(video_io.read_frames(video_io.probe(out_path)))
  assert len(frames[2]) == 6
  for one, two in zip(frames[1], frames[2]):
    np.testing.assert_array_equal(one, two)
