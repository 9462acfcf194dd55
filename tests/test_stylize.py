import os
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fastchi_tf import build_render_net
from fastchi_tf import shipped
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import image_io
from fixtures_models import keras_model_path  # noqa: F401  (fixtures)
from fixtures_models import photo  # noqa: F401
from tool_runner import last_line
from tool_runner import run_tool
from tool_runner import run_tools

Job = stylize_job.StylizeJob


@pytest.mark.slow
def test_output_keeps_odd_sizes_and_max_size_downscales(keras_model_path, photo, tmp_path):
  # The tool on the shipped styles' LiteRT file (no TensorFlow to start: ~1 s a run, not ~9);
  # the .keras model through the tool's job, in-process.
  lite = shipped.path("tflite")
  out, small = tmp_path / "out.jpg", tmp_path / "small.webp"
  for result in run_tools(
      ("stylize.py", "--model", lite, "--style", "wave", "--input", photo, "--output", out),
      ("stylize.py", "--model", lite, "--style", "wave", "--input", photo, "--output", small,
       "--max_size", "20")):
    assert result.returncode == 0, result.stderr
  assert Image.open(out).size == (51, 37)
  assert Image.open(small).size == (20, 15)
  for max_size, name, size in ((None, "keras.jpg", (51, 37)), (20, "keras.webp", (20, 15))):
    stylize_job.run(Job(model=keras_model_path, input=photo, output=str(tmp_path / name),
                        max_size=max_size))
    assert Image.open(tmp_path / name).size == size, name


def test_preserve_color_keeps_the_input_chroma(rng):
  content = rng.integers(0, 256, (16, 16, 3), np.uint8)
  stylized = rng.integers(0, 256, (16, 16, 3), np.uint8)
  out = stylize.preserve_color(content, stylized)
  yuv = lambda x: tf.image.rgb_to_yuv(x.astype(np.float32) / 255.0).numpy()
  inside = np.all((out > 0) & (out < 255), axis=-1)  # clipping may move saturated pixels
  np.testing.assert_allclose(yuv(out)[inside][:, 1:], yuv(content)[inside][:, 1:], atol=0.01)
  np.testing.assert_allclose(yuv(out)[inside][:, 0], yuv(stylized)[inside][:, 0], atol=0.01)


@pytest.mark.slow
def test_folder_mode_reports_bad_files_and_processes_the_rest(keras_model_path, photo,
                                                              tmp_path, capsys):
  folder = tmp_path / "in"
  folder.mkdir()
  Image.open(photo).save(folder / "a.png")
  Image.open(photo).convert("L").save(folder / "b.jpg")
  (folder / "c.png").write_bytes(b"broken")
  # The tool on the shipped styles' LiteRT file; the .keras model in-process.
  result = run_tool("stylize.py", "--model", shipped.path("tflite"), "--style", "wave",
                    "--input", folder, "--output", tmp_path / "out")
  assert result.returncode != 0
  assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.jpg"]
  assert "c.png" in result.stderr and "1 of 3 images failed" in last_line(result.stderr)
  capsys.readouterr()
  done = stylize_job.run(Job(model=keras_model_path, input=str(folder),
                             output=str(tmp_path / "keras")))
  assert sorted(os.listdir(tmp_path / "keras")) == ["a.png", "b.jpg"]
  assert done.failed == [str(folder / "c.png")] and len(done.files) == 3
  assert "c.png" in capsys.readouterr().err


BAD_INPUTS = {
    "corrupt": "cannot read image",
    "missing": "input image not found",
    "extension": "unsupported output extension '.gifx'",
    "input_extension": "unsupported input extension '.tiff'",
    "same": "would overwrite its input",
    "no_model": "model not found",
    "broken_model": "is not a TFLite model",
    "huge": "use --tile",
}


@pytest.mark.slow
def test_bad_input_gets_one_line_and_no_output(keras_model_path, photo, tmp_path):
  # The tool on the shipped styles' LiteRT file (~1 s a run; on .keras each run that loads
  # the model starts TensorFlow, ~9 s).
  calls, folders, keras_jobs = [], [], []
  for case in BAD_INPUTS:
    folder = tmp_path / case
    folder.mkdir()
    src = str(folder / "photo.png")
    Image.open(photo).save(src)
    model, dst = shipped.path("tflite"), str(folder / "out.png")
    if case == "corrupt":
      src = str(folder / "bad.png")
      open(src, "wb").write(b"\x89PNG\r\n\x1a\n garbage")
    elif case == "missing":
      src = str(folder / "nope.png")
    elif case == "extension":
      dst = str(folder / "out.gifx")
    elif case == "input_extension":
      src = str(folder / "photo.tiff")
      Image.open(photo).save(src)
    elif case == "same":
      dst = src
    elif case == "no_model":
      model = str(folder / "none.keras")
    elif case == "broken_model":
      model = str(folder / "broken.tflite")
      open(model, "wb").write(b"not a flatbuffer")
    elif case == "huge":
      src = str(folder / "huge.png")
      Image.new("RGB", (4200, 4200)).save(src)
    never_tile = ["--tile", "0"] if case == "huge" else []  # large images tile by default
    style = ["--style", "wave"] if model == shipped.path("tflite") else []
    calls.append(("stylize.py", "--model", model, "--input", src, "--output", dst,
                  *never_tile, *style))
    folders.append((folder, set(os.listdir(folder))))
    if case in ("corrupt", "huge"):  # after the model loads: on the .keras model too
      keras_jobs.append((case, Job(model=keras_model_path, input=src, output=dst,
                                   tile=0 if never_tile else None), folder))
  for (case, message), result, (folder, before) in zip(BAD_INPUTS.items(), run_tools(*calls),
                                                        folders):
    assert result.returncode != 0, case
    assert message in last_line(result.stderr), (case, result.stderr)
    assert last_line(result.stderr).startswith("stylize.py: error:")
    assert len(result.stderr.strip().splitlines()) == 1, (case, result.stderr)
    assert set(os.listdir(folder)) == before, case  # nothing written, not even a temp file
  for case, job, folder in keras_jobs:
    before = set(os.listdir(folder))
    error = stylize_job.run(job).error
    assert BAD_INPUTS[case] in error and "\n" not in error, (case, error)
    assert set(os.listdir(folder)) == before, case


@pytest.mark.slow
def test_folder_of_same_size_images_is_batched_like_single_runs(keras_model_path, tmp_path,
                                                                rng, capsys):
  folder = tmp_path / "in"
  folder.mkdir()
  for i in range(5):
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8)).save(folder / f"{i}.png")
  # The tool on the shipped styles' LiteRT file; the .keras model, which runs batches as
  # batches, in-process.
  lite = shipped.path("tflite")
  result = run_tool("stylize.py", "--model", lite, "--style", "wave", "--input", folder,
                    "--output", tmp_path / "out", "--batch_size", "2")
  assert result.returncode == 0, result.stderr
  assert "image 5/5" in result.stderr  # progress line
  capsys.readouterr()
  stylize_job.run(Job(model=keras_model_path, input=str(folder),
                      output=str(tmp_path / "keras"), batch_size=2))
  assert "image 5/5" in capsys.readouterr().err
  for model, out in ((lite, "out"), (keras_model_path, "keras")):
    stylizer = stylizers.load_stylizer(model)
    if model == lite:
      stylizer.set_style("wave")
    for i in range(5):
      single = stylize.stylize_image(stylizer, np.asarray(Image.open(folder / f"{i}.png")))
      batched = np.asarray(Image.open(tmp_path / out / f"{i}.png"))
      assert np.abs(single.astype(int) - batched).max() <= 1, (model, i)


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_large_images_are_tiled_automatically_when_the_model_allows(keras_model_path, rng,
                                                                   monkeypatch):
  monkeypatch.setattr(stylize, "AUTO_TILE_PIXELS", 100 * 100)
  monkeypatch.setattr(stylize, "AUTO_TILE", 64)
  monkeypatch.setattr(stylize, "MIN_RENDER_SIDE", 32)  # keep the small image as it is
  stylizer = stylizers.load_stylizer(keras_model_path)
  image = rng.integers(0, 256, (160, 144, 3), np.uint8)
  tiled = stylize.stylize_image(stylizer, image, tile=64)
  assert not np.array_equal(tiled, stylize.stylize_image(stylizer, image, tile=0))
  np.testing.assert_array_equal(stylize.stylize_image(stylizer, image), tiled)
  np.testing.assert_array_equal(stylize.stylize_batch(stylizer, [image])[0], tiled)
  small = image[:64, :64]  # under the threshold: one untiled call
  np.testing.assert_array_equal(stylize.stylize_image(stylizer, small), stylizer(small))


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_small_images_are_rendered_enlarged_not_as_noise():
  import keras
  from fastchi_tf import samples
  photo = samples.read_photo("coffee.png")
  keras.utils.set_random_seed(0)
  stylizer = stylizers.KerasStylizer("seeded", build_render_net("inception", width=8))
  reference = np.asarray(Image.fromarray(stylizer(photo)).resize((24, 16), Image.LANCZOS))
  thumb = np.asarray(Image.fromarray(photo).resize((24, 16), Image.LANCZOS))
  out = stylize.stylize_image(stylizer, thumb)
  assert out.shape == thumb.shape
  as_is = np.abs(stylizer(thumb).astype(int) - reference).mean()
  # The thumbnail rendered as is drifts far from the shrunk full-size result (with the demo's
  # trained model it is noise: docs/small_images.jpg); enlarged it stays close.
  assert np.abs(out.astype(int) - reference).mean() < 0.7 * as_is
  np.testing.assert_array_equal(stylize.stylize_batch(stylizer, [thumb, thumb])[1], out)
  # --tile on it too (a folder of mixed sizes): its tiles would be smaller thumbnails still.
  np.testing.assert_array_equal(stylize.stylize_image(stylizer, thumb, tile=64), out)


def test_transparency_is_kept_where_the_format_holds_it(keras_model_path, tmp_path, rng):
  rgba = rng.integers(0, 256, (40, 48, 4), np.uint8)
  rgba[..., 3] = 0
  rgba[8:30, 10:40, 3] = 255  # an opaque cut-out on a transparent ground
  src = str(tmp_path / "cutout.png")
  Image.fromarray(rgba).save(src)
  stylizer = stylizers.load_stylizer(keras_model_path)
  jobs = [(src, str(tmp_path / name)) for name in ("out.png", "out.webp", "out.jpg")]
  assert stylize.stylize_files(stylizer, jobs) == []
  for name in ("out.png", "out.webp"):
    out = Image.open(tmp_path / name)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., 3], rgba[..., 3])
  assert Image.open(tmp_path / "out.jpg").mode == "RGB"
  opaque = str(tmp_path / "opaque.png")
  Image.fromarray(rgba[..., :3]).save(opaque)
  assert image_io.read_image_alpha(opaque)[1] is None


def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path, rng):
  pixels = rng.integers(0, 256, (20, 30, 3), np.uint8)
  exif = Image.Exif()
  exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
  path = str(tmp_path / "phone.jpg")
  Image.fromarray(pixels).save(path, exif=exif, quality=100)
  image = image_io.read_image(path)
  assert image.shape == (30, 20, 3)
  stored = np.asarray(Image.open(path).convert("RGB")).astype(int)
  np.testing.assert_array_equal(image, np.rot90(stored, k=-1))


def test_jpeg_and_webp_outputs_keep_fine_detail(tmp_path):
  from fastchi_tf import samples
  image = samples.read_photo("astronaut.png", 128)
  for ext in (".jpg", ".webp"):
    path = str(tmp_path / f"out{ext}")
    image_io.write_image(path, image)
    error = np.abs(np.asarray(Image.open(path).convert("RGB"), np.float32) - image).mean()
    assert error < 3.5, (ext, error)  # at Pillow's default quality (75): 5.5 and 4.5 levels


def test_an_explicit_tile_tiles_a_long_thin_image_but_not_a_thumbnail():
  stylizer = types.SimpleNamespace(supports_tiling=True)
  assert stylize.choose_tile(stylizer, (200, 100000), 512) == 512  # enlarged: 128 MP
  assert stylize.choose_tile(stylizer, (16, 24), 64) is None
  assert stylize.choose_tile(stylizer, (300, 400), 0) is None
