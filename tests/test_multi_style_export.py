"""The multi-style network's exports: every form takes the style and carries the names.

Apart from test_multi_style.py so that the two test processes can share the work.
"""

import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from run_helpers import saved_run
from fastchi_tf import export
from fastchi_tf.light import lite
from fastchi_tf import stylize
from fastchi_tf import stylizers
from test_multi_style import NAMES
from test_multi_style import make_config
from test_multi_style import style_folder  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, photo_folder, style_folder):
  """An export (SavedModel, .keras, TFLite) of a multi-style run with distinct styles."""
  root = tmp_path_factory.mktemp("exported")
  cfg = make_config(root / "run", photo_folder, style_folder, render=dict(styles=NAMES))
  # A run folder without training (which costs ~20 s of tracing here), with random scales
  # and shifts so that the styles differ.
  saved_run(cfg, (2,))
  differences = export.export_all(cfg.model_dir, str(root / "export"), tflite=True, onnx=True)
  return str(root / "export"), differences


@pytest.mark.slow
def test_every_export_takes_the_style_and_carries_the_names(exported, rng):
  folder, differences = exported
  # TFLite and ONNX against the SavedModel, pure and 50/50, on a small image and a 640x480
  # photo.
  assert differences["float32"] <= 1 and differences["float16"] <= 4, differences
  assert differences["onnx"] <= 1, differences
  loaded = tf.saved_model.load(os.path.join(folder, export.SAVED_MODEL))
  names = loaded.signatures["style_names"]()["names"].numpy().tolist()
  assert names == [n.encode() for n in NAMES]
  image = rng.integers(0, 256, (1, 30, 42, 3), np.uint8)
  out = loaded.signatures["serving_default"](images=tf.constant(image),
                                             style=tf.constant([0.0, 1.0, 0.0]))["stylized"]
  assert out.dtype == tf.uint8 and out.shape == image.shape
  with open(os.path.join(folder, export.ONNX_FILE), "rb") as f:
    onnx_model = export.OnnxRunner(f.read())
  # A tiny photo too: the TFLite and ONNX runners pad it to the 8 px the files take.
  for photo in (image[0], rng.integers(0, 256, (5, 3, 3), np.uint8)):
    outputs = {}
    for name in (export.SAVED_MODEL, export.KERAS_FILE, *export.TFLITE_FILES.values()):
      stylizer = stylizers.load_stylizer(os.path.join(folder, name))
      assert stylizer.style_names == NAMES, name
      outputs[name] = stylizer.set_style("b")(photo).astype(int)
    outputs[export.ONNX_FILE] = onnx_model(photo, [0.0, 1.0, 0.0]).astype(int)
    for name, out in outputs.items():
      assert out.shape == photo.shape, name
      assert np.abs(out - outputs[export.SAVED_MODEL]).max() <= 1, name
  with pytest.raises(export.ExportError, match="multi-style: give a style mix"):
    onnx_model(image[0])


@pytest.mark.slow
def test_a_mix_lies_between_its_styles_and_strength_ramps_from_the_photo(exported, rng):
  folder, _ = exported
  stylizer = stylizers.load_stylizer(os.path.join(folder, export.KERAS_FILE))
  photo = rng.integers(0, 256, (48, 64, 3), np.uint8)
  a, c = (stylizer.set_style(s)(photo).astype(float) for s in ("a", "c"))
  mix = stylizer.set_style("a:0.5,c:0.5")(photo).astype(float)
  apart = np.abs(a - c).mean()
  assert apart > 2
  assert np.abs(mix - a).mean() < apart and np.abs(mix - c).mean() < apart
  distances = []
  for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
    # Through stylize_image too, which renders this small photo enlarged: the blend is at
    # the photo's own size.
    out = stylizer.set_style("a", strength)(photo)
    whole = stylize.stylize_image(stylizer, photo, keep_color=True)
    distances.append(np.abs(out.astype(float) - photo).mean())
    if strength == 0:
      np.testing.assert_array_equal(whole, photo)
  assert distances[0] == 0  # strength 0 is the photo itself
  assert all(x < y for x, y in zip(distances, distances[1:]))  # monotone
  np.testing.assert_array_equal(stylizer.set_style("a", 1.0)(photo), a)
  with pytest.raises(stylize.StylizeError, match="--strength must be from 0 to 1"):
    stylizer.set_style("a", 1.5)


@pytest.mark.slow
def test_tiling_and_colour_preservation_work_with_mixes(exported, rng):
  folder, _ = exported
  stylizer = stylizers.load_stylizer(os.path.join(folder, export.KERAS_FILE))
  stylizer.set_style("a:0.3,b:0.7")
  photo = rng.integers(0, 256, (300, 280, 3), np.uint8)
  whole = stylize.stylize_image(stylizer, photo, tile=0).astype(int)
  tiled = stylize.stylize_image(stylizer, photo, tile=128).astype(int)
  assert np.abs(whole - tiled).mean() < 0.05 and np.abs(whole - tiled).max() <= 2
  kept = stylize.stylize_image(stylizer, photo, tile=0, keep_color=True)
  assert kept.shape == photo.shape and np.abs(kept.astype(int) - whole).mean() > 1


@pytest.mark.slow
def test_exports_tile_with_their_own_signatures(exported, rng, tmp_path):
  folder, _ = exported
  alone = tmp_path / "saved_model"  # no model.keras beside it
  shutil.copytree(os.path.join(folder, export.SAVED_MODEL), alone)
  photo = rng.integers(0, 256, (300, 280, 3), np.uint8)
  mix = "a:0.3,b:0.7"
  keras_model = stylizers.load_stylizer(os.path.join(folder, export.KERAS_FILE))
  reference = stylize.stylize_image(keras_model.set_style(mix), photo, tile=128).astype(int)
  # The .keras stylizer runs a copy with its RGB convolution on 2x2 blocks, like the
  # SavedModel; a SavedModel of the convolutions as trained agrees, tiled and not.
  assert keras_model._fast_model().get_layer("c2_conv").space_to_depth == 2
  assert keras_model.keras_model.get_layer("c2_conv").space_to_depth == 1
  plain = tmp_path / "plain"
  export.export_saved_model(keras_model.keras_model, str(plain), space_to_depth=False)
  odd = photo[:33, :47]
  untiled = keras_model(odd).astype(int)
  for path in (alone, plain, os.path.join(folder, export.TFLITE_FILES["float32"])):
    stylizer = stylizers.load_stylizer(str(path)).set_style(mix)
    assert stylizer.supports_tiling and stylizer.keras_model is None
    tiled = stylize.stylize_image(stylizer, photo, tile=128)
    assert np.abs(tiled.astype(int) - reference).max() <= 1, path
    assert np.abs(stylizer(odd).astype(int) - untiled).max() <= 1, path
  # An export from before the tiling signatures, alone, cannot tile, and says so.
  archive = keras.export.ExportArchive()
  archive.track(keras_model.keras_model)
  archive.add_endpoint(name="serving_default",
                       fn=export.uint8_serving_fn(keras_model.keras_model),
                       input_signature=export._signature(keras_model.keras_model))
  archive.add_endpoint(name="style_names", fn=lambda: {"names": tf.constant(list(NAMES))},
                       input_signature=[])
  archive.write_out(str(tmp_path / "old"), verbose=False)
  old = stylizers.load_stylizer(str(tmp_path / "old")).set_style(mix)
  assert not old.supports_tiling
  with pytest.raises(stylize.StylizeError, match="tiling needs a .keras file"):
    stylize.stylize_image(old, photo, tile=128)


@pytest.mark.slow
def test_a_multi_style_model_without_a_style_is_refused(exported, rng):
  folder, _ = exported
  stylizer = stylizers.load_stylizer(os.path.join(folder, export.TFLITE_FILES["float32"]))
  with pytest.raises(stylize.StylizeError, match="has 3 styles; choose one with --style"):
    stylizer(rng.integers(0, 256, (8, 8, 3), np.uint8))


@pytest.mark.slow
def test_the_tflite_runner_refuses_style_weights_of_the_wrong_length(exported, rng):
  # The CompiledModel would copy a short vector in and keep the rest from the last call.
  folder, _ = exported
  runner = lite.TFLiteRunner(os.path.join(folder, export.TFLITE_FILES["float32"]))
  image = rng.integers(0, 256, (8, 8, 3), np.uint8)
  assert runner(image, np.float32([1, 0, 0])).shape == (8, 8, 3)
  with pytest.raises(ValueError, match="takes 3 style weights, got an array of shape"):
    runner(image, np.float32([1, 0]))


@pytest.mark.slow
def test_a_colour_skip_network_exports_and_tiles_in_every_form(tmp_path, photo_folder,
                                                               style_folder, rng):
  # The skip's statistics are of the whole picture, like the other norms': every form
  # computes and tiles them the same way.
  cfg = make_config(tmp_path / "run", photo_folder, style_folder,
                    render=dict(styles=NAMES, output_activation="tanh", colour_skip=True))
  saved_run(cfg, (2,))
  folder = str(tmp_path / "export")
  differences = export.export_all(cfg.model_dir, folder, tflite=True, onnx=True)
  assert differences["float32"] <= 1 and differences["onnx"] <= 1, differences
  photo = rng.integers(0, 256, (300, 280, 3), np.uint8)
  keras_model = stylizers.load_stylizer(os.path.join(folder, export.KERAS_FILE))
  whole = stylize.stylize_image(keras_model.set_style("b"), photo, tile=0).astype(int)
  for name in (export.KERAS_FILE, export.SAVED_MODEL, export.TFLITE_FILES["float32"]):
    stylizer = stylizers.load_stylizer(os.path.join(folder, name)).set_style("b")
    tiled = stylize.stylize_image(stylizer, photo, tile=128).astype(int)
    assert np.abs(tiled - whole).mean() < 0.1 and np.abs(tiled - whole).max() <= 2, name
