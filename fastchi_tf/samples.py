"""Sample data that the demo, the experiments and the tests share, all offline.

Photos come from scikit-image's data folder (real photographs that ship with the package);
clips are pans over a photo, encoded with the ffmpeg that imageio-ffmpeg ships, optionally
with a 440 Hz tone. Nothing here downloads anything.
"""

import dataclasses
import fractions
import os
import wave
from typing import Iterable, Iterator, Optional

import numpy as np
from PIL import Image

from fastchi_tf.light import io_utils
from fastchi_tf import video_io

# Photos the demo trains on, and one it never sees.
TRAIN_PHOTOS = ("astronaut.png", "chelsea.png", "motorcycle_left.png", "motorcycle_right.png",
                "rocket.jpg", "camera.png", "coins.png", "moon.png", "page.png", "text.png",
                "brick.png", "grass.png", "gravel.png", "horse.png")
HELD_OUT_PHOTO = "coffee.png"
CLIP_PHOTO = "chelsea.png"  # the demo clip pans over this photo
STYLE_IMAGE = "ihc.png"  # immunohistochemistry stain: brown and blue textures
# Small real photos the tests train and stylize on.
TEST_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
               "rocket.jpg", "hubble_deep_field.jpg")


def skimage_path(name: str) -> str:
  """Path of a file in scikit-image's data folder."""
  import skimage  # (scikit-image: the light install has none, and only the photos need it)
  return os.path.join(os.path.dirname(skimage.__file__), "data", name)


def read_photo(name: str, max_side: Optional[int] = None) -> np.ndarray:
  """uint8 RGB of a scikit-image photo, shrunk so its longer side is at most `max_side`."""
  with Image.open(skimage_path(name)) as image:
    image = image.convert("RGB")
    if max_side:
      image.thumbnail((max_side, max_side))
    return np.asarray(image)


def write_train_photos(folder: str, size: int = 256) -> str:
  """Writes TRAIN_PHOTOS, shrunk to at most `size` px, as PNGs into `folder` (kept if there)."""
  os.makedirs(folder, exist_ok=True)
  for name in TRAIN_PHOTOS:
    target = os.path.join(folder, os.path.splitext(name)[0] + ".png")
    if not os.path.exists(target):
      with io_utils.atomic_path(target) as tmp:
        Image.fromarray(read_photo(name, size)).save(tmp, format="PNG")
  return folder


def write_sine_wav(path: str, seconds: float, rate: int = 44100, hz: float = 440.0) -> None:
  t = np.arange(int(seconds * rate)) / rate
  samples = (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
  with wave.open(path, "wb") as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(rate)
    f.writeframes(samples.tobytes())


def pan_frames(image: np.ndarray, width: int, height: int,
               num_frames: int) -> Iterator[np.ndarray]:
  """A camera pan over `image`: `num_frames` crops of width x height moving diagonally."""
  image = np.asarray(image, np.uint8)
  scale = max(width / image.shape[1], height / image.shape[0]) * 1.25
  if scale > 1:  # too small to pan over: enlarge (nearest is enough for test clips)
    rows = (np.arange(int(image.shape[0] * scale)) / scale).astype(int)
    cols = (np.arange(int(image.shape[1] * scale)) / scale).astype(int)
    image = image[rows][:, cols]
  span_y, span_x = image.shape[0] - height, image.shape[1] - width
  for i in range(num_frames):
    t = i / max(1, num_frames - 1)
    y, x = int(t * span_y), int(t * span_x)
    yield image[y:y + height, x:x + width]


def make_clip(path: str, frames: Iterable[np.ndarray], fps: float | fractions.Fraction | str,
              audio_seconds: Optional[float] = None, crf: int = 18) -> str:
  """Writes `frames` (uint8 [h, w, 3]) as an H.264 clip, with a 440 Hz tone if asked.

  Used by tests and the demo to make videos without downloading any.
  """
  frames = list(frames)
  height, width = frames[0].shape[:2]
  fps = fractions.Fraction(fps)
  info = video_io.VideoInfo(path="", width=width, height=height, fps=fps, duration=0.0, codec="")
  wav = None
  if audio_seconds:
    wav = path + ".wav"
    write_sine_wav(wav, audio_seconds)
    info = dataclasses.replace(info, path=wav, audio_codecs=("pcm_s16le",))
  writer = video_io.VideoWriter(path, info, crf=crf, preset="veryfast")
  try:
    for frame in frames:
      writer.write(frame)
    writer.close()
  except BaseException:
    writer.abort()
    raise
  finally:
    if wav:
      os.remove(wav)
  return path
