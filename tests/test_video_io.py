import fractions

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import samples
from fastchi_tf import video_io
import video_clips


@pytest.mark.parametrize("text, rate", [("29.97", "30000/1001"), ("23.98", "24000/1001"),
                                        ("59.94", "60000/1001"), ("24", "24"), ("25", "25"),
                                        ("12.50", "25/2"), ("30", "30"), ("8.33", "25/3"),
                                        ("1k", "1000")])
def test_parse_rate_recovers_exact_rates(text, rate):
  assert video_io.parse_rate(text) == fractions.Fraction(rate)


@pytest.mark.parametrize("width, height, fps, audio", [(64, 48, "24", True),
                                                       (33, 21, "30000/1001", True),
                                                       (40, 30, "30000/1001", False)])
def test_clips_round_trip_size_rate_frames_and_audio(tmp_path, width, height, fps, audio):
  path = video_clips.pan_clip(tmp_path / "clip.mp4", width, height, 12, fps, audio)
  info = video_io.probe(path)
  assert (info.width, info.height, info.fps) == (width, height, fractions.Fraction(fps))
  assert (info.audio_codec is not None) == audio
  assert info.expected_frames == 12
  frames = list(video_io.read_frames(info))
  assert len(frames) == 12 and frames[0].shape == (height, width, 3)
  expected = list(samples.pan_frames(video_clips.astronaut(), width, height, 12))
  # H.264 at crf 18 is close to, not equal to, the frames sent.
  assert np.abs(np.stack(frames).astype(int) - np.stack(expected)).mean() < 6
  assert len(list(video_io.read_frames(info, max_frames=5))) == 5


def test_odd_sizes_use_444_chroma_even_sizes_420():
  assert video_io.pixel_format(64, 48) == "yuv420p"
  assert video_io.pixel_format(33, 48) == "yuv444p"
  assert video_io.pixel_format(64, 21) == "yuv444p"


def test_frame_indices_survive_encoding(tmp_path):
  path = video_clips.indexed_clip(tmp_path / "indexed.mp4", 20)
  frames = video_io.read_frames(video_io.probe(path))
  assert [video_clips.read_index(f) for f in frames] == list(range(20))


def test_bad_inputs_are_named(tmp_path):
  clip = video_clips.pan_clip(tmp_path / "clip.mp4", 64, 48, 24, 24)
  text = tmp_path / "notes.mp4"
  text.write_text("not a video\n")
  image = tmp_path / "photo.png"
  image.write_bytes(open(video_clips.skimage_path("coffee.png"), "rb").read())
  cases = {
      str(tmp_path / "missing.mp4"): "not found",
      str(text): "cannot read",
      str(image): "is an image",
      str(tmp_path): "is a folder",
      video_clips.audio_only(tmp_path / "tone.m4a"): "audio track (aac) but no video",
      video_clips.audio_with_cover_art(tmp_path / "song.m4a"): "audio track (aac) but no video",
      video_clips.truncated(clip, tmp_path / "cut.mp4", faststart=False): "cannot read",
  }
  for path, words in cases.items():
    with pytest.raises(video_io.VideoError, match=words.replace("(", r"\(").replace(")", r"\)")):
      video_io.probe(path)
  # These have a readable header; the problem shows while decoding.
  cut = video_io.probe(video_clips.truncated(clip, tmp_path / "cut_fs.mp4", faststart=True))
  with pytest.raises(video_io.VideoError, match="truncated: decoded .* frames of about 24"):
    list(video_io.read_frames(cut))
  cut_mkv = video_io.probe(video_clips.truncated(clip, tmp_path / "cut.mkv"))
  with pytest.raises(video_io.VideoError, match="truncated"):
    list(video_io.read_frames(cut_mkv))
  empty = video_io.probe(video_clips.zero_frame_video(tmp_path / "empty.y4m"))
  assert (empty.width, empty.height) == (64, 48)
  with pytest.raises(video_io.VideoError, match="no video frames"):
    list(video_io.read_frames(empty))


def test_variable_rate_sources_give_every_frame_once(tmp_path):
  source = video_clips.pan_clip(tmp_path / "cfr.mp4", 64, 48, 36, 24, audio=False)
  vfr = video_io.probe(video_clips.variable_rate(source, tmp_path / "vfr.mp4"))
  assert len(list(video_io.read_frames(vfr))) == 36  # not padded to a constant rate


# A phone's clip: frames shown for irregular times (seconds).
IRREGULAR = [0.04, 0.2, 0.08, 0.12, 0.04, 0.28, 0.08]
STARTS = [fractions.Fraction(n, 25) for n in (0, 1, 6, 8, 11, 12, 19)]


def test_frame_times_tell_variable_from_constant_rates(tmp_path):
  irregular = video_io.probe(video_clips.irregular_clip(tmp_path / "vfr.mp4", IRREGULAR))
  times = video_io.frame_times(irregular)
  assert video_clips.seconds(times) == STARTS
  assert times.increasing() and not times.constant(irregular.fps)
  assert video_clips.seconds(video_io.frame_times(irregular, max_frames=3)) == STARTS[:4]
  for ext in (".mp4", ".mkv"):  # MKV rounds 30000/1001's times to milliseconds
    ntsc = video_io.probe(video_clips.pan_clip(tmp_path / f"ntsc{ext}", 32, 24, 12,
                                               "30000/1001", audio=False))
    times = video_io.frame_times(ntsc)
    assert len(times.pts) == 12 and times.constant(ntsc.fps), ext


def test_variable_rate_frames_are_written_at_their_own_times(tmp_path):
  source = video_io.probe(video_clips.irregular_clip(tmp_path / "vfr.mp4", IRREGULAR))
  times = video_io.frame_times(source)
  for ext in video_io.VIDEO_FORMATS:
    path = str(tmp_path / f"out{ext}")
    writer = video_io.VideoWriter(path, source, times=times)
    for frame in video_io.read_frames(source):
      writer.write(frame)
    writer.close()
    out = video_io.probe(path)
    assert video_clips.seconds(video_io.frame_times(out)) == STARTS, ext
    assert [video_clips.read_index(f, bits=5) for f in video_io.read_frames(out)] == list(
        range(len(IRREGULAR))), ext
  with pytest.raises(video_io.VideoError, match="gave more frames than it has times for .2."):
    writer = video_io.VideoWriter(str(tmp_path / "short.mp4"), source,
                                  times=video_io.FrameTimes(times.timebase, times.pts[:2]))
    try:
      for frame in video_io.read_frames(source):
        writer.write(frame)
    finally:
      writer.abort()


def test_writer_failure_is_one_clear_error(tmp_path):
  info = video_io.VideoInfo(path="frames", width=32, height=32, fps=fractions.Fraction(24),
                            duration=0.0, codec="")
  writer = video_io.VideoWriter(str(tmp_path / "out.mp4"), info, preset="no-such-preset")
  with pytest.raises(video_io.VideoError, match="ffmpeg says: .*"):
    for _ in range(50):
      writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.close()


def _rewrite(source, path):
  """Decodes `source` and encodes it into `path` as the tools do; returns the output's info."""
  info = video_io.probe(source)
  writer = video_io.VideoWriter(str(path), info)
  for frame in video_io.read_frames(info):
    writer.write(frame)
  writer.close()
  return video_io.probe(str(path))


@pytest.mark.parametrize("sar", ["16:15", "4:3"])
@pytest.mark.parametrize("width, height", [(33, 21), (32, 24)])
def test_non_square_pixels_keep_their_aspect_in_every_container(tmp_path, sar, width, height):
  # In a filter, "setsar=16:15" reads as sar=16, max=15: the clip came back 15:1.
  expected_dar = fractions.Fraction(width, height) * fractions.Fraction(*map(int, sar.split(":")))
  for ext in video_io.VIDEO_FORMATS:
    source = video_clips.pattern_clip(tmp_path / f"in{ext}", width, height, sar=sar)
    assert video_io.probe(source).sar == sar
    out = _rewrite(source, tmp_path / f"out{ext}")
    assert (out.width, out.height, out.sar) == (width, height, sar), ext
    assert video_clips.display_aspect(out.path) == expected_dar == out.display_aspect, ext


def test_untagged_sources_are_tagged_bt709_in_container_and_bitstream(tmp_path):
  source = video_clips.pattern_clip(tmp_path / "in.mp4", 32, 24)
  assert "bt709" not in video_clips.video_line(source)  # untagged
  for ext in video_io.VIDEO_FORMATS:
    out = _rewrite(source, tmp_path / f"out{ext}")
    # All three agree, so ffmpeg names them once: "yuv420p(tv, bt709, progressive)".
    assert (out.colorspace, out.color_primaries, out.color_trc) == ("bt709",) * 3, ext
    assert "(tv, bt709, progressive)" in video_clips.video_line(out.path), ext
    assert "(tv, bt709, progressive)" in video_clips.video_line(out.path, bitstream=True), ext


def test_source_primaries_and_transfer_are_kept_with_our_bt709_matrix(tmp_path):
  """The frames are converted with our BT.709 matrix, but their primaries and transfer are
  the source's: nothing converts those."""
  source = video_clips.pattern_clip(tmp_path / "in.mkv", 32, 24, colorspace="smpte170m",
                                    color_primaries="smpte170m", color_trc="smpte170m")
  src = video_io.probe(source)
  assert (src.colorspace, src.color_primaries, src.color_trc) == ("smpte170m",) * 3
  out = _rewrite(source, tmp_path / "out.mp4")
  assert (out.colorspace, out.color_primaries, out.color_trc) == (
      "bt709", "smpte170m", "smpte170m")
  assert "bt709/smpte170m/smpte170m" in video_clips.video_line(out.path, bitstream=True)


@pytest.mark.parametrize("line, color", [
    (" (High), yuv420p(tv, bt709, progressive), 64x48", ("bt709",) * 3),
    (" (High), yuv420p(tv, bt709/unknown/unknown, progressive), 64x48",
     ("bt709", "unknown", "unknown")),
    (" (avc1 / 0x31637661), yuvj420p(pc, bt470bg/bt470bg/smpte170m), 64x48",
     ("bt470bg", "bt470bg", "smpte170m")),
    (" (High), yuv420p(progressive), 64x48", ("unknown",) * 3),
    (", yuv420p, 64x48", ("unknown",) * 3)])
def test_parse_color_reads_ffmpegs_two_spellings(line, color):
  assert video_io.parse_color(line) == color


def test_a_text_file_named_as_an_image_is_not_called_an_image(tmp_path):
  # The video tool said a text file named .jpg "is an image".
  text = tmp_path / "notes.jpg"
  text.write_text("not a picture\n")
  with pytest.raises(video_io.VideoError, match=rf"^cannot read {text}: it is named as an "
                     "image but holds neither an image nor a video$"):
    video_io.probe(str(text))
  photo = tmp_path / "photo.jpg"
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
  with pytest.raises(video_io.VideoError, match=rf"^input {photo} is an image, not a video; "
                     "use fastchi stylize for photos$"):
    video_io.probe(str(photo))
