"""fastchi_tf.light.image_io: colour profiles (the other reading cases: test_stylize.py)."""

import io
import logging
import struct

from absl import logging as absl_logging
import numpy as np
import pytest
from PIL import Image
from PIL import ImageCms

from fastchi_tf.light import image_io

D50 = np.array([0.9642, 1.0, 0.8249])
# Bradford's cone response matrix (ICC.1:2010 annex E).
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                     [0.0389, -0.0685, 1.0296]])
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))  # D65 white, sRGB's curve
ADOBE_RGB = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060))  # D65 white, gamma 563/256


def _xyz(x, y):
  return np.array([x / y, 1.0, (1 - x - y) / y])


def _s15(value):
  return struct.pack(">i", int(round(value * 65536)))


def _tag_xyz(xyz):
  return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def icc_profile(primaries, description, gamma=None):
  """A minimal ICC v2 RGB display profile (matrix and tone curves), written here so the test
  needs no profile file: the primaries' colorants adapted to D50 by Bradford, and sRGB's
  tone curve (or a pure `gamma`)."""
  white = _xyz(0.3127, 0.3290)  # D65
  columns = np.stack([_xyz(*p) for p in primaries], axis=1)
  to_xyz = columns * np.linalg.solve(columns, white)  # RGB -> XYZ (D65)
  cone_src, cone_dst = BRADFORD @ white, BRADFORD @ D50
  adapt = np.linalg.inv(BRADFORD) @ np.diag(cone_dst / cone_src) @ BRADFORD
  colorants = adapt @ to_xyz
  if gamma is None:  # parametric curve 3: sRGB's
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    curve = b"para\0\0\0\0" + struct.pack(">H", 3) + b"\0\0" + b"".join(map(_s15, params))
  else:
    curve = b"curv\0\0\0\0" + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256))
  text = description.encode("ascii") + b"\0"
  desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0"
          + b"\0" * 67)
  tags = [(b"desc", desc), (b"wtpt", _tag_xyz(D50)), (b"cprt", b"text\0\0\0\0none\0"),
          (b"rXYZ", _tag_xyz(colorants[:, 0])), (b"gXYZ", _tag_xyz(colorants[:, 1])),
          (b"bXYZ", _tag_xyz(colorants[:, 2])), (b"rTRC", curve), (b"gTRC", curve),
          (b"bTRC", curve)]
  offset = 128 + 4 + 12 * len(tags)
  table, body = b"", b""
  for signature, data in tags:
    table += signature + struct.pack(">II", offset + len(body), len(data))
    body += data + b"\0" * (-len(data) % 4)
  size = offset + len(body)
  header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
            + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24
            + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50) + b"\0" * 48)
  assert len(header) == 128
  return header + struct.pack(">I", len(tags)) + table + body


def srgb_of(rgb, icc):
  """What LittleCMS itself makes of the colour `rgb` in the profile `icc`, in sRGB."""
  pixel = Image.new("RGB", (1, 1), tuple(rgb))
  source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
  target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
  return np.asarray(ImageCms.profileToProfile(pixel, source, target, outputMode="RGB"))[0, 0]


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch):
  monkeypatch.setattr(image_io, "_said", set())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_display_p3_photo_is_read_in_srgb(tmp_path, fmt, caplog, monkeypatch):
  # Each profile is reported once per process: earlier tests in this worker may have read
  # this one already (its training and stylize tests do).
  monkeypatch.setattr(image_io, "_said", set())
  icc = icc_profile(DISPLAY_P3, "Display P3 (test)")
  assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() \
      == "Display P3 (test)"
  red = (235, 30, 25)  # a saturated P3 red, as a phone's photo of a red car holds it
  path = tmp_path / f"p3.{'jpg' if fmt == 'JPEG' else 'png'}"
  Image.new("RGB", (16, 8), red).save(path, format=fmt, icc_profile=icc,
                                      **({"quality": 100} if fmt == "JPEG" else {}))
  stored = np.asarray(Image.open(path))[4, 8]  # (a JPEG's own rounding)
  expected = srgb_of(stored, icc)
  assert np.abs(expected.astype(int) - stored).max() > 20  # read as sRGB it is wrong
  # (absl's verbosity, which an earlier in-process tool run in this worker may have left at
  # WARNING, is INFO here: --verbosity 0, which the report is for)
  was = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    with caplog.at_level(logging.INFO):
      image = image_io.read_image(str(path))
      image_io.read_image(str(path))
  finally:
    absl_logging.set_verbosity(was)
  np.testing.assert_array_equal(image[4, 8], expected)
  said = [r.getMessage() for r in caplog.records if "colour profile" in r.getMessage()]
  assert said == ["converting images with the colour profile 'Display P3 (test)' to sRGB"]


def test_adobe_rgb_keeps_alpha_and_srgb_or_no_profile_is_left_alone(tmp_path):
  icc = icc_profile(ADOBE_RGB, "Adobe RGB (test)", gamma=563 / 256)
  green = (40, 200, 60, 128)
  Image.new("RGBA", (4, 4), green).save(tmp_path / "adobe.png", icc_profile=icc)
  image, alpha = image_io.read_image_alpha(str(tmp_path / "adobe.png"))
  np.testing.assert_array_equal(image[0, 0], srgb_of(green[:3], icc))
  assert (alpha == 128).all()
  srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
  Image.new("RGB", (4, 4), green[:3]).save(tmp_path / "srgb.png", icc_profile=srgb)
  Image.new("RGB", (4, 4), green[:3]).save(tmp_path / "plain.png")
  for name in ("srgb.png", "plain.png"):
    np.testing.assert_array_equal(image_io.read_image(str(tmp_path / name))[0, 0], green[:3])
  # A damaged profile: read as the pixels say, as before.
  Image.new("RGB", (4, 4), green[:3]).save(tmp_path / "broken.png", icc_profile=b"junk" * 40)
  np.testing.assert_array_equal(image_io.read_image(str(tmp_path / "broken.png"))[0, 0],
                                green[:3])


def test_png_is_written_losslessly_at_zlib_level_1(tmp_path, rng):
  # Pillow's default level 6 cost a 1024x679 photo 0.23 s of its 1.2 s end to end; the
  # zlib header's level bits say which the encoder used (0: the fastest).
  image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
  path = str(tmp_path / "out.png")
  image_io.write_image(path, image)
  np.testing.assert_array_equal(np.asarray(Image.open(path)), image)
  data = open(path, "rb").read()
  idat = data[data.index(b"IDAT") + 4:]
  assert idat[0] & 0x0F == 8 and idat[1] >> 6 == 0, idat[:2].hex()
