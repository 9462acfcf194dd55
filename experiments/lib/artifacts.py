"""Bright blobs in flat regions: a made-up sky over dark ground, and how far a stylized
picture's brightest spot there stands above its surroundings.

The shipped third recipe's network drew the same white ovals along the horizon of any sky in
every style (issue 35): small spots near 255 where the photo is smooth. A style's own strokes
and palette vary the sky by tens of levels; a blob stands a hundred or more above the
median around it.
"""

import numpy as np
from scipy import ndimage


def sky_scene(height=240, width=360, seed=0):
  """uint8 [h, w, 3]: a smooth blue sky, lighter towards a horizon at 3/4 of the height, over
  dark ground, with a little sensor noise (what the blobs appeared on)."""
  y = np.linspace(0.0, 1.0, height)[:, None, None]
  sky = np.array([70.0, 130.0, 200.0]) * (1 - y) + np.array([170.0, 200.0, 230.0]) * y
  image = sky * np.ones((1, width, 1))
  image[int(height * 0.75):] = (60.0, 50.0, 40.0)
  noise = np.random.default_rng(seed).normal(0.0, 1.5, image.shape)
  return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def sky_rows(height):
  """The rows of sky_scene's sky (down to the horizon)."""
  return slice(0, int(height * 0.75))


def blob_pixels(image, rows=None, spot=9, around=41, rise=40.0, white=200.0, smooth=12.0,
                photo=None, photo_white=160.0):
  """Pixels of the largest bright blob in the region: where the `spot`-pixel window is
  whitish (its darkest channel's mean above `white`), smooth (luma std below `smooth`: a
  blob is flat, a stroke is not) and `rise` levels above the median luma of the
  `around`-pixel window. 0 for a clean picture.

  With `photo` (the picture it was stylized from, same size), places where the photo's own
  spot window is whitish (its darkest channel's mean above `photo_white`: snow, clouds) are
  not counted: a white painted there is the photo's, not a blob of the network's."""
  rgb = np.asarray(image, np.float64)[..., :3]
  if rows is not None:
    rgb = rgb[rows]
  luma = rgb @ np.array([0.299, 0.587, 0.114])
  mean = ndimage.uniform_filter(luma, spot, mode="reflect")
  std = np.sqrt(np.maximum(ndimage.uniform_filter(luma ** 2, spot, mode="reflect")
                           - mean ** 2, 0.0))
  darkest = ndimage.uniform_filter(rgb.min(axis=-1), spot, mode="reflect")
  above = mean - ndimage.median_filter(luma, around, mode="reflect")
  found = (darkest > white) & (std < smooth) & (above > rise)
  if photo is not None:
    own = np.asarray(photo, np.float64)[..., :3]
    own = own if rows is None else own[rows]
    found &= ndimage.uniform_filter(own.min(axis=-1), spot, mode="reflect") <= photo_white
  labels, count = ndimage.label(found)
  return int(np.bincount(labels.ravel())[1:].max()) if count else 0
