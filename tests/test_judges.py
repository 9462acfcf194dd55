"""The evaluation judges (experiments/lib/judges.py) point the right way on made-up cases."""

import numpy as np
import pytest
from PIL import Image
from PIL import ImageFilter

from experiments.lib import judges
from fastchi_tf import samples


@pytest.fixture(scope="module")
def photo():
  image = Image.open(samples.skimage_path("chelsea.png")).convert("RGB")
  return np.asarray(image.resize((96, 64)))


@pytest.fixture(scope="module")
def painting():
  """Strong diagonal strokes in a blue and yellow palette: nothing like the photo."""
  y, x = np.mgrid[0:128, 0:128]
  stripes = (np.sin((x + y) / 3.0) > 0)[..., None]
  return np.where(stripes, [30, 60, 200], [240, 210, 40]).astype(np.uint8)


def test_the_photo_scores_one_on_both(photo, painting):
  assert judges.style_score(photo, photo, painting) == pytest.approx(1.0)
  assert judges.structure_score(photo, photo) == pytest.approx(1.0)


def test_a_picture_pushed_toward_the_painting_scores_closer_and_keeps_less(photo, painting):
  target = judges.style_embedding(painting)
  tile = np.asarray(Image.fromarray(painting).resize(photo.shape[1::-1]), np.float64)
  scores = []
  for amount in (0.0, 0.4, 0.8):
    pushed = np.round((1 - amount) * photo + amount * tile).astype(np.uint8)
    scores.append((judges.style_score(pushed, photo, painting_embedding=target),
                   judges.structure_score(pushed, photo)))
  styles, structures = zip(*scores)
  assert styles[0] == pytest.approx(1.0) and styles[0] > styles[1] > styles[2]
  assert structures[0] == pytest.approx(1.0) and structures[0] > structures[1] > structures[2]


def test_structure_falls_as_the_outlines_blur_and_sizes_must_match(photo):
  blurred = [np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(r)))
             for r in (1, 4)]
  mild, strong = (judges.structure_score(b, photo) for b in blurred)
  assert 1.0 > mild > strong
  with pytest.raises(ValueError, match="differ in size"):
    judges.structure_score(photo[:32], photo)
