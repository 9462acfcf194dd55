"""Short test videos made with imageio-ffmpeg: pans over a scikit-image photo, with a tone."""

import fractions
import os
import re
import subprocess

import numpy as np

from fastchi_tf import video_io
from fastchi_tf import samples
from fastchi_tf.samples import skimage_path

_BIT = 8  # side of one index bit's square: survives H.264 at the default crf


def astronaut():
  from PIL import Image
  return np.asarray(Image.open(skimage_path("astronaut.png")).convert("RGB"))


def pan_clip(path, width, height, frames, fps, audio=True):
  seconds = frames / fractions.Fraction(fps) if audio else None
  return samples.make_clip(str(path), samples.pan_frames(astronaut(), width, height, frames),
                            fps, audio_seconds=seconds)


def stamp_index(frame, index, bits=10):
  """Writes `index` into the top row of `frame` as black/white squares."""
  frame = frame.copy()
  for b in range(bits):
    frame[:_BIT, b * _BIT:(b + 1) * _BIT] = 255 if index >> b & 1 else 0
  return frame


def read_index(frame, bits=10):
  return sum(1 << b for b in range(bits)
             if frame[:_BIT, b * _BIT:(b + 1) * _BIT].mean() > 127)


def indexed_clip(path, frames, width=96, height=48, fps=24):
  pan = samples.pan_frames(astronaut(), width, height, frames)
  return samples.make_clip(str(path), [stamp_index(f, i) for i, f in enumerate(pan)], fps,
                            audio_seconds=frames / fps)


def ffmpeg(*args):
  subprocess.run([video_io.ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def audio_only(path):
  samples.write_sine_wav(str(path) + ".wav", 1.0)
  ffmpeg("-i", str(path) + ".wav", "-c:a", "aac", path)
  os.remove(str(path) + ".wav")
  return str(path)


def zero_frame_video(path):
  """A valid YUV4MPEG2 stream: a header that describes 64x48 at 24 fps, and no frames."""
  with open(path, "w") as f:
    f.write("YUV4MPEG2 W64 H48 F24:1 Ip A1:1 C420jpeg\n")
  return str(path)


def truncated(source, path, faststart=False):
  """The first half of a clip, remuxed into `path`'s container first. With MP4's faststart
  the index (moov) comes first and survives, so the data just ends early; without it the
  index is cut off. MKV has no index to lose: it just ends early."""
  remuxed = str(path) + ".remux" + os.path.splitext(str(path))[1]
  ffmpeg("-i", source, "-c", "copy", *(["-movflags", "+faststart"] if faststart else []),
         remuxed)
  with open(remuxed, "rb") as f:
    data = f.read()
  os.remove(remuxed)
  with open(path, "wb") as f:
    f.write(data[:len(data) // 2])
  return str(path)


def variable_rate(source, path):
  """The first 12 frames at 24 fps, the rest at 12 fps: a variable-rate clip."""
  ffmpeg("-i", source, "-vf", "setpts='if(lt(N,12),N/24/TB,(12+(N-12)*2)/24/TB)'",
         "-fps_mode", "vfr", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", path)
  return str(path)


def with_two_audio_tracks(source, path):
  wav = str(path) + ".wav"
  samples.write_sine_wav(wav, 1.0)
  ffmpeg("-i", source, "-i", wav, "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy",
         "-c:a", "aac", path)
  os.remove(wav)
  return str(path)


def audio_with_cover_art(path):
  wav, cover = str(path) + ".wav", str(path) + ".png"
  samples.write_sine_wav(wav, 1.0)
  from PIL import Image
  Image.fromarray(astronaut()[:64, :64]).save(cover)
  ffmpeg("-i", wav, "-i", cover, "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png",
         "-disposition:v", "attached_pic", path)
  os.remove(wav)
  os.remove(cover)
  return str(path)


def pattern_clip(path, width, height, frames=3, sar="1:1", **color):
  """ffmpeg's test pattern, made by ffmpeg alone (not by the writer under test), with pixels
  `sar` wide ("16:15") and the colour tags `color` (setparams names); untagged without them.
  4:4:4 chroma, so any size works."""
  num, den = map(int, sar.split(":"))
  vf = f"setsar=sar={num}/{den}:max={max(num, den)}"
  if color:
    vf += ",setparams=" + ":".join(f"{k}={v}" for k, v in color.items())
  ffmpeg("-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=24", "-frames:v", frames,
         "-vf", vf, "-c:v", "libx264", "-pix_fmt", "yuv444p", path)
  return str(path)


def video_line(path, bitstream=False):
  """ffmpeg's description of the first video stream of `path`; with `bitstream`, of its raw
  H.264 stream alone (what the encoder wrote, without the container's tags)."""
  if bitstream:
    raw = subprocess.run([video_io.ffmpeg_exe(), "-v", "error", "-i", str(path), "-map",
                          "0:v:0", "-c", "copy", "-f", "h264", "-"],
                         capture_output=True, check=True).stdout
    text = subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-f", "h264", "-i", "-"],
                          input=raw, capture_output=True).stderr.decode()
  else:
    text = subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                          capture_output=True, text=True).stderr
  return next(line for line in text.splitlines() if "Video:" in line)


def display_aspect(path):
  """The display aspect ratio ffmpeg reads from `path`, as a fraction."""
  dar = re.search(r"DAR (\d+):(\d+)", video_line(path))
  return fractions.Fraction(int(dar.group(1)), int(dar.group(2)))


def irregular_clip(path, durations, width=48, height=32, audio=False):
  """A variable-rate clip as phones make them: frame i (its index stamped in) is shown for
  durations[i] seconds (multiples of 1/25 s, the image demuxer's ticks). Made by ffmpeg's
  concat demuxer from PNGs, not by the writer under test."""
  from PIL import Image
  folder = str(path) + ".frames"
  os.makedirs(folder)
  pan = samples.pan_frames(astronaut(), width, height, len(durations))
  lines = ["ffconcat version 1.0"]
  for i, (frame, seconds) in enumerate(zip(pan, durations)):
    Image.fromarray(stamp_index(frame, i, bits=5)).save(os.path.join(folder, f"{i}.png"))
    lines += [f"file {i}.png", f"duration {seconds}"]
  lines.append(f"file {len(durations) - 1}.png")  # (the concat demuxer's last duration)
  with open(os.path.join(folder, "list.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
  sound = []
  if audio:
    samples.write_sine_wav(os.path.join(folder, "tone.wav"), sum(durations))
    sound = ["-i", os.path.join(folder, "tone.wav"), "-c:a", "aac"]
  ffmpeg("-f", "concat", "-i", os.path.join(folder, "list.txt"), *sound, "-frames:v",
         len(durations), "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         path)
  for name in os.listdir(folder):
    os.remove(os.path.join(folder, name))
  os.rmdir(folder)
  return str(path)


def seconds(times):
  """A FrameTimes' presentation times in seconds from its first frame, as Fractions."""
  return [(p - times.pts[0]) * times.timebase for p in times.pts]
