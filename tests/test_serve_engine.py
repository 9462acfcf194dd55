"""fastchi serve's models and image handling (fastchi_tf/serve_engine.py), without HTTP."""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import samples
from fastchi_tf import serve_engine
from fastchi_tf import shipped
from fastchi_tf import stylize
from fastchi_tf.light import image_io
from test_serve import SHIPPED, _png_header, encoded


@pytest.fixture(scope="module")
def photo():
  return samples.read_photo("chelsea.png", 96)


def test_decode_reads_uploads_as_the_command_line_reads_files(photo, tmp_path):
  path = tmp_path / "gray16.png"
  Image.fromarray((photo[..., 0].astype(np.uint16) * 257)).save(path)
  image, alpha = serve_engine.decode(path.read_bytes(), 10**6)
  assert np.array_equal(image, image_io.read_image(str(path))) and alpha is None
  assert image.shape == photo.shape


def test_a_decompression_bomb_under_a_high_limit_is_413():
  with pytest.raises(serve_engine.RequestError, match="decompression bomb") as caught:
    serve_engine.decode(_png_header(30000, 30000), max_pixels=10**12)
  assert caught.value.status == 413


def test_encode_png_with_alpha_and_jpeg(photo):
  alpha = np.full(photo.shape[:2], 128, np.uint8)
  png = Image.open(io.BytesIO(serve_engine.encode(photo, alpha, "png")))
  assert png.format == "PNG" and np.array_equal(np.asarray(png)[..., 3], alpha)
  jpeg = Image.open(io.BytesIO(serve_engine.encode(photo, alpha, "jpeg")))
  assert jpeg.format == "JPEG" and jpeg.mode == "RGB"


def test_models_must_be_tflite_files(tmp_path):
  for path, words in [(str(tmp_path / "m.keras"), "runs .tflite models"),
                      (str(tmp_path / "m.tflite"), "model not found")]:
    with pytest.raises(stylize.StylizeError, match=words):
      serve_engine.Engine(serve_engine.EngineConfig(model=path))
  with pytest.raises(stylize.StylizeError, match="holds no .tflite files"):
    serve_engine.collection_models(str(tmp_path))


def test_a_collection_adds_styles_and_a_mix_stays_within_one_model(tmp_path, photo):
  shutil.copy(shipped.path("tflite"), tmp_path / "mine.tflite")
  engine = serve_engine.Engine(serve_engine.EngineConfig(collection=str(tmp_path), workers=1))
  assert engine.names == SHIPPED + tuple(f"{n}_2" for n in SHIPPED)
  choice = engine.choose("wave_2")
  assert choice.model == 1 and choice.weights.tolist() == [0, 0, 0, 0, 0, 1]
  with pytest.raises(serve_engine.RequestError, match="different models"):
    engine.choose("wave:0.5,wave_2:0.5")
  assert np.array_equal(engine.run(photo, engine.choose("wave_2")),
                        engine.run(photo, engine.choose("wave")))
  assert engine.describe()["models"] == [shipped.TFLITE_FILE, "mine.tflite"]


def test_names_are_usable_in_a_style_choice():
  assert serve_engine.unique_names(["a:b", "c,d", "a_b", ""], ["x"]) == [
      "a_b", "c_d", "a_b_2", "style"]


def test_an_encoded_photo_round_trips(photo):
  image, _ = serve_engine.decode(encoded(photo), 10**6)
  assert np.array_equal(image, photo)


def test_a_large_image_runs_alone_tiled_and_its_interpreter_is_replaced(photo):
  """Above large_pixels an image is tiled like the CLI's large ones, and the interpreter it
  used (whose memory grows with the pixels it last ran) is replaced by a fresh one."""
  engine = serve_engine.Engine(serve_engine.EngineConfig(workers=1, threads=1,
                                                         large_pixels=64 * 64))
  before = engine._pools[0].queue[0]
  out = engine.run(photo, engine.choose("wave"))
  assert out.shape == photo.shape and engine._pools[0].queue[0] is not before
  small = engine._pools[0].queue[0]
  engine.run(photo[:32, :32], engine.choose("wave"))
  assert engine._pools[0].queue[0] is small
