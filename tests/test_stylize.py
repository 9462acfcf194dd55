import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fastchi_tf import build_render_net
from fastchi_tf import stylize
from fastchi_tf import tiling
from tool_runner import last_line
from tool_runner import run_tool


@pytest.fixture(scope="module")
def keras_model_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("model") / "model.keras")
  build_render_net("inception", width=8).save(path)
  return path


@pytest.fixture
def photo(tmp_path, rng):
  path = str(tmp_path / "photo.png")
  Image.fromarray(rng.integers(0, 256, (37, 51, 3), np.uint8)).save(path)
  return path


def test_output_keeps_odd_sizes_and_max_size_downscales(keras_model_path, photo, tmp_path):
  out = str(tmp_path / "out.jpg")
  result = run_tool("stylize.py", "--model", keras_model_path, "--input", photo, "--output", out)
  assert result.returncode == 0, result.stderr
  assert Image.open(out).size == (51, 37)
  result = run_tool("stylize.py", "--model", keras_model_path, "--input", photo,
                    "--output", str(tmp_path / "small.webp"), "--max_size", "20")
  assert result.returncode == 0, result.stderr
  assert Image.open(tmp_path / "small.webp").size == (20, 15)


def test_preserve_color_keeps_the_input_chroma(rng):
  content = rng.integers(0, 256, (16, 16, 3), np.uint8)
  stylized = rng.integers(0, 256, (16, 16, 3), np.uint8)
  out = stylize.preserve_color(content, stylized)
  yuv = lambda x: tf.image.rgb_to_yuv(x.astype(np.float32) / 255.0).numpy()
  inside = np.all((out > 0) & (out < 255), axis=-1)  # clipping may move saturated pixels
  np.testing.assert_allclose(yuv(out)[inside][:, 1:], yuv(content)[inside][:, 1:], atol=0.01)
  np.testing.assert_allclose(yuv(out)[inside][:, 0], yuv(stylized)[inside][:, 0], atol=0.01)


def test_tiled_output_stays_close_to_the_whole_image(rng):
  model = build_render_net("original", width=8)
  render = lambda x: model(x, training=False)
  image = np.asarray(Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).resize(
      (1024, 1024), Image.BILINEAR))
  whole = np.clip(np.round(render(image[None].astype(np.float32))[0].numpy()), 0, 255)
  tiled = tiling.stylize_tiled(render, model, image, tile=256)
  assert tiled.shape == image.shape
  assert np.abs(tiled - whole).mean() <= 2.0  # 2/255 of the range
  # Without whole-image statistics tiles disagree: the bound is not trivially met.
  naive = np.concatenate([np.concatenate([
      np.clip(np.round(render(image[None, y:y + 256, x:x + 256].astype(np.float32))[0]), 0, 255)
      for x in range(0, 1024, 256)], axis=1) for y in range(0, 1024, 256)], axis=0)
  assert np.abs(naive - whole).mean() > np.abs(tiled - whole).mean()


def test_folder_mode_reports_bad_files_and_processes_the_rest(keras_model_path, photo,
                                                              tmp_path):
  folder = tmp_path / "in"
  folder.mkdir()
  Image.open(photo).save(folder / "a.png")
  Image.open(photo).convert("L").save(folder / "b.jpg")
  (folder / "c.png").write_bytes(b"broken")
  result = run_tool("stylize.py", "--model", keras_model_path, "--input", folder,
                    "--output", tmp_path / "out")
  assert result.returncode != 0
  assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.jpg"]
  assert "c.png" in result.stderr and "1 of 3 images failed" in last_line(result.stderr)


@pytest.mark.parametrize("case,message", [
    ("corrupt", "cannot read image"),
    ("missing", "input image not found"),
    ("extension", "unsupported output extension '.gifx'"),
    ("input_extension", "unsupported input extension '.tiff'"),
    ("same", "would overwrite its input"),
    ("no_model", "model not found"),
    ("broken_model", "cannot load model"),
    ("huge", "use --tile"),
])
def test_bad_input_gets_one_line_and_no_output(keras_model_path, photo, tmp_path, case,
                                               message):
  model, src, dst = keras_model_path, photo, str(tmp_path / "out.png")
  if case == "corrupt":
    src = str(tmp_path / "bad.png")
    open(src, "wb").write(b"\x89PNG\r\n\x1a\n garbage")
  elif case == "missing":
    src = str(tmp_path / "nope.png")
  elif case == "extension":
    dst = str(tmp_path / "out.gifx")
  elif case == "input_extension":
    src = str(tmp_path / "photo.tiff")
    Image.open(photo).save(src)
  elif case == "same":
    dst = src
  elif case == "no_model":
    model = str(tmp_path / "none.keras")
  elif case == "broken_model":
    model = str(tmp_path / "broken.tflite")
    open(model, "wb").write(b"not a flatbuffer")
  elif case == "huge":
    src = str(tmp_path / "huge.png")
    Image.new("RGB", (4200, 4200)).save(src)
  before = set(os.listdir(tmp_path))
  never_tile = ["--tile", "0"] if case == "huge" else []  # large images tile by default
  result = run_tool("stylize.py", "--model", model, "--input", src, "--output", dst,
                    *never_tile)
  assert result.returncode != 0
  assert message in last_line(result.stderr)
  assert last_line(result.stderr).startswith("stylize.py: error:")
  assert set(os.listdir(tmp_path)) == before  # nothing written, not even a temporary file


def test_folder_of_same_size_images_is_batched_like_single_runs(keras_model_path, tmp_path,
                                                                rng):
  folder = tmp_path / "in"
  folder.mkdir()
  for i in range(5):
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8)).save(folder / f"{i}.png")
  result = run_tool("stylize.py", "--model", keras_model_path, "--input", folder,
                    "--output", tmp_path / "out", "--batch_size", "2")
  assert result.returncode == 0, result.stderr
  assert "image 5/5" in result.stderr  # progress line
  stylizer = stylize.Stylizer(keras_model_path)
  for i in range(5):
    single = stylizer(np.asarray(Image.open(folder / f"{i}.png")))
    batched = np.asarray(Image.open(tmp_path / "out" / f"{i}.png"))
    assert np.abs(single.astype(int) - batched).max() <= 1


def test_mixed_precision_stylizer_agrees_with_float32(keras_model_path, rng):
  image = rng.integers(0, 256, (24, 40, 3), np.uint8)
  full = stylize.Stylizer(keras_model_path)(image).astype(int)
  half = stylize.Stylizer(keras_model_path, mixed_precision=True)
  assert half.keras_model.layers[1].compute_dtype == "float16"
  assert np.abs(half(image).astype(int) - full).mean() < 1.0


def test_large_images_are_tiled_automatically_when_the_model_allows(keras_model_path, rng,
                                                                   monkeypatch):
  monkeypatch.setattr(stylize, "AUTO_TILE_PIXELS", 100 * 100)
  monkeypatch.setattr(stylize, "AUTO_TILE", 64)
  stylizer = stylize.Stylizer(keras_model_path)
  image = rng.integers(0, 256, (160, 144, 3), np.uint8)
  tiled = stylize.stylize_image(stylizer, image, tile=64)
  assert not np.array_equal(tiled, stylize.stylize_image(stylizer, image, tile=0))
  np.testing.assert_array_equal(stylize.stylize_image(stylizer, image), tiled)
  np.testing.assert_array_equal(stylize.stylize_batch(stylizer, [image])[0], tiled)
  small = image[:64, :64]  # under the threshold: one untiled call
  np.testing.assert_array_equal(stylize.stylize_image(stylizer, small), stylizer(small))
