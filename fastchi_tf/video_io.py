"""Video decoding, probing and encoding through the ffmpeg binary that imageio-ffmpeg ships.

Frames are uint8 RGB [h, w, 3] numpy arrays. Nothing here knows about models.
"""

import dataclasses
import fractions
import os
import re
import struct
import subprocess
import threading
from typing import Iterator, Optional, Tuple

import imageio_ffmpeg  # ships the ffmpeg binary used here
import numpy as np
from PIL import Image

from fastchi_tf.light import io_utils

VIDEO_FORMATS = (".mp4", ".mov", ".mkv")
# Extensions ffmpeg would happily read as a one-frame "video"; photos go to tools/stylize.py.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Audio codecs each container holds as they are; others are re-encoded to AAC (.mkv holds all).
COPYABLE_AUDIO = {".mp4": ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"),
                  ".mov": ("aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le")}
# What ffmpeg says (at -v error) when a file ends before its index says it should.
TRUNCATION_MESSAGES = ("partial file", "ended prematurely")
# Colour primaries and transfers a source may carry into the output (names setparams takes).
PRIMARIES = ("bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020",
             "smpte428", "smpte431", "smpte432")
TRANSFERS = ("bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "linear",
             "iec61966-2-1", "bt2020-10", "bt2020-12", "smpte2084", "arib-std-b67")
# Names ffmpeg prints once when matrix, primaries and transfer all agree.
_SHARED_COLOR_NAMES = ("bt709", "bt470bg", "smpte170m", "smpte240m")


class VideoError(ValueError):
  """A video that cannot be read or written; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """What the output must keep of the source."""
  path: str
  width: int
  height: int
  fps: fractions.Fraction
  duration: float  # seconds, of the container (0 if unknown)
  codec: str
  audio_codecs: Tuple[str, ...] = ()  # of every audio track; empty: no audio
  sar: str = "1:1"  # sample (pixel) aspect ratio, kept so anamorphic video keeps its shape
  # Colour tags as ffmpeg names them; "unknown" when the file does not say.
  colorspace: str = "unknown"  # the YUV matrix
  color_primaries: str = "unknown"
  color_trc: str = "unknown"  # the transfer function

  @property
  def audio_codec(self) -> Optional[str]:
    """The first audio track's codec, or None."""
    return self.audio_codecs[0] if self.audio_codecs else None

  @property
  def display_aspect(self) -> fractions.Fraction:
    """Width / height as shown: the frame's shape stretched by the sample aspect ratio."""
    return fractions.Fraction(self.width, self.height) * fractions.Fraction(
        *map(int, self.sar.split(":")))

  @property
  def expected_frames(self) -> Optional[int]:
    """Frame count the header implies; an estimate (variable-rate sources differ)."""
    return max(1, round(self.duration * self.fps)) if self.duration else None


def ffmpeg_exe() -> str:
  return imageio_ffmpeg.get_ffmpeg_exe()


def parse_rate(text: str) -> fractions.Fraction:
  """ffmpeg's printed rate ("29.97", "25", "23.98", "8.33", "1k") as an exact fraction.

  ffmpeg prints rates rounded to two decimals; NTSC rates (N*1000/1001) are recovered
  exactly, others as the simplest fraction that prints the same (8.33 -> 25/3).
  """
  value = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
  ntsc = round(value * 1.001)
  if ntsc and abs(value - round(value)) > 1e-6 and abs(value - ntsc * 1000 / 1001) < 0.006:
    return fractions.Fraction(ntsc * 1000, 1001)
  for denominator in range(1, 1002):
    candidate = fractions.Fraction(round(value * denominator), denominator)
    if abs(float(candidate) - value) < 0.005:
      return candidate
  return fractions.Fraction(text).limit_denominator(1001)


def parse_color(details: str) -> Tuple[str, str, str]:
  """(matrix, primaries, transfer) from an ffmpeg stream line.

  ffmpeg prints the three once when they agree ("yuv420p(tv, bt709, progressive)") and as
  matrix/primaries/transfer when not ("yuv420p(tv, bt709/unknown/unknown)"); nothing when
  none is tagged.
  """
  match = re.search(r", \w+\(([^)]*)\)", details)
  for item in match.group(1).split(", ") if match else ():
    if item.count("/") == 2:
      return tuple(item.split("/"))
    if item in _SHARED_COLOR_NAMES:
      return (item,) * 3
  return ("unknown",) * 3


def _header(path):
  """ffmpeg's description of `path` (its stderr for `ffmpeg -i path`)."""
  result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
                          capture_output=True, text=True, errors="replace", timeout=60)
  return result.stderr


def _looks_like_image(path):
  """True if Pillow recognizes the file's content as an image."""
  try:
    with Image.open(path):
      return True
  except Exception:  # noqa: BLE001  (not an image, unreadable: either way not one)
    return False


def probe(path: str) -> VideoInfo:
  """Reads the header of a video file; raises VideoError for anything that is not one."""
  if not os.path.exists(path):
    raise VideoError(f"input video not found: {path}")
  if os.path.isdir(path):
    raise VideoError(f"input {path} is a folder, not a video file")
  if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
    if not _looks_like_image(path):  # a text file named .jpg is no image either
      raise VideoError(f"cannot read {path}: it is named as an image but holds neither an "
                       "image nor a video")
    raise VideoError(f"input {path} is an image, not a video; use fastchi stylize for photos")
  text = _header(path)
  if "Error opening input" in text or "Input #0" not in text:
    reason = [l.strip() for l in text.splitlines() if l.strip()][-1:] or ["unknown error"]
    raise VideoError(f"cannot read {path} as a video (not a video, or corrupt/truncated): "
                     f"ffmpeg says: {reason[0]}")
  streams = re.findall(r"Stream #0:\d+.*?: (Video|Audio): (\w+)(.*)", text)
  # Cover art in audio files shows up as a one-picture video stream.
  videos = [(c, d) for kind, c, d in streams if kind == "Video" and "attached pic" not in d]
  audio_codecs = tuple(c for kind, c, _ in streams if kind == "Audio")
  if not videos:
    if audio_codecs:
      raise VideoError(f"{path} has an audio track ({audio_codecs[0]}) but no video stream")
    raise VideoError(f"{path} contains no video stream")
  codec, details = videos[0]
  size = re.search(r", (\d+)x(\d+)", details)
  rate = re.search(r"([\d.]+k?) fps", details) or re.search(r"([\d.]+k?) tbr", details)
  if not size or not rate or re.match(r" \([^)]*\)[^,]*, none,", details + ","):
    raise VideoError(f"cannot read {path}: its video stream has no decodable frames "
                     "(truncated or corrupt)")
  sar = re.search(r"SAR (\d+):(\d+)", details)
  width, height = size.groups()
  rate = rate.group(1)
  if codec in ("png", "mjpeg", "webp", "bmp", "tiff") and "Duration: N/A" in text:
    raise VideoError(f"input {path} is an image, not a video; use fastchi stylize for photos")
  sar = f"{sar.group(1)}:{sar.group(2)}" if sar and sar.group(1) != "0" else "1:1"
  rotation = re.search(r"rotation of (-?[\d.]+) degrees", text)
  if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
    # ffmpeg decodes phone videos upright (autorotate), which turns the pixels too.
    width, height = height, width
    sar = ":".join(reversed(sar.split(":")))
  match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
  duration = (int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))
              if match else 0.0)
  colorspace, primaries, trc = parse_color(details)
  return VideoInfo(path=path, width=int(width), height=int(height), fps=parse_rate(rate),
                   duration=duration, codec=codec, audio_codecs=audio_codecs, sar=sar,
                   colorspace=colorspace, color_primaries=primaries, color_trc=trc)


def check_output(input_path: str, output_path: str, model_path: Optional[str] = None) -> None:
  """Refuses an output that is not a video file name, or that names an input however spelled
  (links, '..', hard links, case); raises a ValueError naming it."""
  ext = os.path.splitext(output_path)[1].lower()
  if ext not in VIDEO_FORMATS:
    raise VideoError(f"unsupported output extension {ext or '(none)'!r} in "
                     f"{output_path}; use one of {', '.join(VIDEO_FORMATS)}")
  if os.path.isdir(output_path):
    raise VideoError(f"output {output_path} is a folder; give a file name")
  io_utils.check_not_inputs(outputs=[output_path],
                            inputs=[p for p in (input_path, model_path) if p])


def prepare_output(output_path: str) -> list[str]:
  """Creates the output's missing folders and checks it can be written, before any work;
  returns the folders created (for io_utils.remove_empty)."""
  try:
    created = io_utils.prepare_output(output_path)
  except ValueError as e:
    message = str(e)  # say which output, if the reason names only its folder
    raise VideoError(message if output_path in message
                     else f"cannot write {output_path}: {message}") from None
  folder = os.path.dirname(output_path)
  if folder and not os.path.isdir(folder):
    # "missing/../out.mp4": '..' read as text names an existing folder, but the system
    # cannot get there, and would say so only when the finished file is moved in.
    io_utils.remove_empty(created)
    raise VideoError(f"cannot write {output_path}: folder {folder} does not exist")
  return created


class _StderrCollector(threading.Thread):
  """Drains a pipe so ffmpeg never blocks on a full stderr, keeping the lines."""

  def __init__(self, pipe):
    super().__init__(daemon=True)
    self.pipe, self.lines = pipe, []

  def run(self):
    for line in iter(self.pipe.readline, b""):
      self.lines.append(line.decode("utf-8", "replace").strip())


def read_frames(info: VideoInfo, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
  """Yields the video's frames in order as uint8 [h, w, 3]; raises VideoError at the end if
  ffmpeg reports the file truncated or fails, or if there are no frames at all."""
  # passthrough: every decoded frame once. ffmpeg's default for rawvideo is a constant rate
  # at the stream's tbr, which duplicates frames of variable-rate sources.
  cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", info.path,
         "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
  frame_bytes = info.width * info.height * 3
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, start_new_session=True)
  errors = _StderrCollector(proc.stderr)
  errors.start()
  count = 0
  try:
    while max_frames is None or count < max_frames:
      data = proc.stdout.read(frame_bytes)
      if len(data) < frame_bytes:
        break
      yield np.frombuffer(data, np.uint8).reshape(info.height, info.width, 3)
      count += 1
    if max_frames is not None and count == max_frames:
      return
    proc.wait()
    errors.join(timeout=5)
    if proc.returncode != 0:
      raise VideoError(f"cannot decode {info.path}: ffmpeg says: "
                       f"{(errors.lines or ['exit code %d' % proc.returncode])[-1]}")
    if any(m in line for line in errors.lines for m in TRUNCATION_MESSAGES):
      raise VideoError(f"{info.path} is truncated: decoded {count} frames of about "
                       f"{info.expected_frames}")
    if count == 0:
      raise VideoError(f"{info.path} contains no video frames")
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    proc.stdout.close()


@dataclasses.dataclass(frozen=True)
class FrameTimes:
  """When each frame that read_frames yields is shown: pts[i] x timebase seconds."""
  timebase: fractions.Fraction
  pts: Tuple[int, ...]

  def constant(self, fps: fractions.Fraction) -> bool:
    """Whether frame i is shown at pts[0] + i / fps, to within a tick of the timebase or a
    millisecond (containers round times to their ticks): a constant rate, written as one."""
    tolerance = max(self.timebase, fractions.Fraction(1, 1000))
    start = self.pts[0] * self.timebase if self.pts else 0
    return all(abs(p * self.timebase - start - i / fps) <= tolerance
               for i, p in enumerate(self.pts))

  def increasing(self) -> bool:
    return all(a < b for a, b in zip(self.pts, self.pts[1:]))


def frame_times(info: VideoInfo, max_frames: Optional[int] = None) -> FrameTimes:
  """The presentation time of each frame read_frames yields, from a decoding pass of its own
  (ffmpeg's framemd5 of 2x2 copies: the times alone, in the stream's own timebase), and of
  the frame after the first `max_frames`, which is where they end."""
  cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", info.path,
         "-map", "0:v:0", "-fps_mode", "passthrough", "-enc_time_base", "demux",
         "-vf", "scale=2:2"]
  if max_frames is not None:
    cmd += ["-frames:v", str(max_frames + 1)]
  result = subprocess.run(cmd + ["-f", "framemd5", "-"], capture_output=True, text=True,
                          errors="replace", stdin=subprocess.DEVNULL)
  timebase, pts = None, []
  for line in result.stdout.splitlines():
    if line.startswith("#tb 0:"):
      timebase = fractions.Fraction(line.split(":", 1)[1].strip())
    elif line and not line.startswith("#"):
      pts.append(int(line.split(",")[2]))
  if result.returncode != 0 or timebase is None:
    reason = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
    raise VideoError(f"cannot read the frame times of {info.path}: ffmpeg says: {reason}")
  return FrameTimes(timebase, tuple(pts))


def pixel_format(width: int, height: int) -> str:
  """4:2:0 chroma where the size allows (plays everywhere); 4:4:4 for odd sizes.

  H.264 4:2:0 stores chroma per 2x2 block and can only crop in steps of 2, so an odd width or
  height cannot be kept exactly in 4:2:0; 4:4:4 keeps it without padding or cropping.
  """
  return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def output_color(info: VideoInfo) -> Tuple[str, str]:
  """(primaries, transfer) to tag a video made from `info`'s frames with.

  The frames are converted to RGB and back with our BT.709 matrix, but nothing converts their
  primaries or transfer: those stay the source's. An untagged source is taken as BT.709.
  """
  return (info.color_primaries if info.color_primaries in PRIMARIES else "bt709",
          info.color_trc if info.color_trc in TRANSFERS else "bt709")


class VideoWriter:
  """Encodes frames to H.264 (libx264) in `path`, muxing every audio track of the source.

  `path` should be a temporary name (see io_utils.atomic_path): close() finishes the file and
  raises VideoError if ffmpeg failed; abort() kills ffmpeg at once. With `times` each frame
  is shown at its own time (a variable rate), else at the constant rate info.fps.
  """

  def __init__(self, path: str, info: VideoInfo, crf: int = 18, preset: str = "veryfast",
               num_frames: Optional[int] = None, times: Optional[FrameTimes] = None) -> None:
    self.path, self.info, self.frames = path, info, 0
    self.times = times
    ext = os.path.splitext(path)[1].lower()
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error"]
    if times is None:  # a constant rate
      cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{info.width}x{info.height}",
              "-r", str(info.fps), "-i", "-"]
    else:
      # Each frame at its own time: raw frames in IVF, the simplest container with a time per
      # frame that ffmpeg reads from a pipe (its fourcc RGB\x18 is rgb24 to the raw decoder).
      cmd += ["-f", "ivf", "-c:v", "rawvideo", "-i", "-"]
    if info.audio_codecs:
      copyable = COPYABLE_AUDIO.get(ext)
      copy = copyable is None or all(c in copyable for c in info.audio_codecs)
      cmd += ["-i", info.path, "-map", "0:v:0", "-map", "1:a?",
              "-c:a", "copy" if copy else "aac"]
      if not copy:
        cmd += ["-b:a", "192k"]
      end = self._end(num_frames)
      if end is not None:  # --max_frames: cut the audio where the video ends
        cmd += ["-t", f"{float(end):.6f}"]
    primaries, trc = output_color(info)
    sar_num, sar_den = map(int, info.sar.split(":"))
    # BT.709 conversion: untagged HD video is read as BT.709 by most players, and swscale's
    # default BT.601 matrix would shift its colours. The encoder takes the tags from the
    # frames, so setparams tags them (the -color_* options alone came out "unknown"; they
    # stay for ffmpeg builds that read them). In setsar, "128:117" would mean sar=128,
    # max=117, and the ratio is reduced to terms up to max (default 100): write it as one
    # value with a max that fits.
    cmd += ["-vf", f"scale=out_color_matrix=bt709:out_range=tv,"
                   f"setsar=sar={sar_num}/{sar_den}:max={max(sar_num, sar_den)},"
                   f"setparams=range=tv:colorspace=bt709:color_primaries={primaries}:"
                   f"color_trc={trc}",
            "-colorspace", "bt709", "-color_primaries", primaries, "-color_trc", trc,
            "-c:v", "libx264", "-pix_fmt", pixel_format(info.width, info.height),
            "-crf", str(crf), "-preset", preset]
    if times is not None:  # (MP4's default would duplicate frames to a constant rate)
      cmd += ["-fps_mode", "passthrough", "-enc_time_base", "demux"]
    if ext in (".mp4", ".mov"):
      cmd += ["-movflags", "+faststart"]
    self._proc = subprocess.Popen(cmd + [path], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)  # Ctrl-C is ours to handle
    self._errors = _StderrCollector(self._proc.stderr)
    self._errors.start()
    if times is not None:
      # IVF's header: version 0, its size, fourcc, size, rate/scale (the timebase), frames
      # (unknown when streaming: 0).
      self._send(b"DKIF" + struct.pack("<HH4sHHIII4x", 0, 32, b"RGB\x18", info.width,
                                       info.height, times.timebase.denominator,
                                       times.timebase.numerator, 0))

  def _end(self, num_frames):
    """When the first `num_frames` frames end (seconds), or None for all of them."""
    if num_frames is None:
      return None
    if self.times is None:
      return num_frames / self.info.fps
    if num_frames >= len(self.times.pts):
      return None
    return (self.times.pts[num_frames] - self.times.pts[0]) * self.times.timebase

  def _send(self, data):
    try:
      self._proc.stdin.write(data)
    except (BrokenPipeError, OSError):
      raise self._failure("encode") from None

  def _failure(self, what):
    self._proc.wait()
    self._errors.join(timeout=5)
    reason = (self._errors.lines or [f"exit code {self._proc.returncode}"])[-1]
    return VideoError(f"cannot {what} the video made from {self.info.path}: ffmpeg says: "
                      f"{reason}")

  def write(self, frame: np.ndarray) -> None:
    frame = np.ascontiguousarray(frame, np.uint8)
    if frame.shape != (self.info.height, self.info.width, 3):
      raise VideoError(f"frame of shape {frame.shape} does not fit the "
                       f"{self.info.width}x{self.info.height} video")
    if self.times is not None:
      if self.frames >= len(self.times.pts):
        raise VideoError(f"{self.info.path} gave more frames than it has times for "
                         f"({len(self.times.pts)})")
      # Each frame's header: its size and time, from the first frame's (IVF's are unsigned).
      self._send(struct.pack("<IQ", frame.nbytes,
                             self.times.pts[self.frames] - self.times.pts[0]))
    self._send(frame.data)
    self.frames += 1

  def close(self) -> None:
    try:
      self._proc.stdin.close()
    except (BrokenPipeError, OSError):
      pass
    if self._proc.wait() != 0:
      raise self._failure("encode")
    self._errors.join(timeout=5)

  def abort(self) -> None:
    if self._proc.poll() is None:
      self._proc.kill()
    self._proc.wait()
    try:
      self._proc.stdin.close()
    except (BrokenPipeError, OSError):
      pass
