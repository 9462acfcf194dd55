import os

import numpy as np
from PIL import Image

from fastchi_tf import samples
from fastchi_tf import video_io


def test_photos_exist_and_shrink_to_the_asked_side():
  for name in samples.TRAIN_PHOTOS + samples.TEST_PHOTOS + (samples.HELD_OUT_PHOTO,):
    assert os.path.isfile(samples.skimage_path(name)), name
  assert samples.HELD_OUT_PHOTO not in samples.TRAIN_PHOTOS  # held out means held out
  photo = samples.read_photo("coffee.png", 100)
  assert photo.dtype == np.uint8 and max(photo.shape[:2]) == 100 and photo.shape[2] == 3


def test_train_photos_are_written_once_as_png(tmp_path):
  folder = samples.write_train_photos(str(tmp_path / "photos"), size=32)
  names = sorted(os.listdir(folder))
  assert len(names) == len(samples.TRAIN_PHOTOS) and all(n.endswith(".png") for n in names)
  assert max(Image.open(os.path.join(folder, names[0])).size) <= 32
  before = os.path.getmtime(os.path.join(folder, names[0]))
  samples.write_train_photos(folder, size=32)
  assert os.path.getmtime(os.path.join(folder, names[0])) == before


def test_a_pan_clip_with_a_tone(tmp_path):
  frames = list(samples.pan_frames(samples.read_photo("chelsea.png"), 32, 24, 5))
  assert len(frames) == 5 and frames[0].shape == (24, 32, 3)
  assert not np.array_equal(frames[0], frames[-1])  # the camera moves
  path = samples.make_clip(str(tmp_path / "clip.mp4"), frames, 10, audio_seconds=0.5)
  info = video_io.probe(path)
  assert (info.width, info.height, info.audio_codec) == (32, 24, "aac")
  assert os.listdir(tmp_path) == ["clip.mp4"]  # the tone's temporary file is gone
