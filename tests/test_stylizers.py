"""The stylizer backends: a .keras file, a SavedModel and a .tflite file loaded and checked."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import stylizers
from fixtures_models import keras_model_path  # noqa: F401  (a fixture)


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_mixed_precision_stylizer_agrees_with_float32(keras_model_path, rng):
  image = rng.integers(0, 256, (24, 40, 3), np.uint8)
  full = stylizers.load_stylizer(keras_model_path)(image).astype(int)
  half = stylizers.load_stylizer(keras_model_path, mixed_precision=True)
  assert half.keras_model.layers[1].compute_dtype == "float16"
  assert np.abs(half(image).astype(int) - full).mean() < 1.0


def _unrelated_keras(path):
  model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3,
                                                                              padding="same")])
  model.save(path)
  return path


def _unrelated_saved_model(path):
  module = tf.Module()
  module.fn = tf.function(lambda x: {"y": x * 2.0},
                          input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  tf.saved_model.save(module, path, signatures={"serving_default": module.fn})
  return path


@pytest.mark.parametrize("make,message", [
    (_unrelated_keras, "is a Keras model but not a FastChi-TF render network"),
    (lambda p: open(p, "w").write("hello") and p, "is not a .keras model"),
    (_unrelated_saved_model, "is a SavedModel but not a FastChi-TF export"),
    (lambda p: os.makedirs(p) or p, "is a folder but not a SavedModel"),
    (lambda p: open(p, "wb").write(b"\0" * 64) and p, "is not a TFLite model"),
])
def test_models_that_are_not_ours_are_named_in_one_line(tmp_path, make, message):
  suffix = {"is not a TFLite model": ".tflite", "is a SavedModel but not": "",
            "is a folder but not": ""}
  ext = next((v for k, v in suffix.items() if message.startswith(k)), ".keras")
  path = make(str(tmp_path / f"model{ext}"))
  with pytest.raises(stylizers.StylizeError, match=message) as info:
    stylizers.load_stylizer(path)
  assert "\n" not in str(info.value)


def test_strength_blends_the_output_with_the_photo(rng):
  photo = rng.integers(0, 256, (4, 6, 3), np.uint8)
  stylized = rng.integers(0, 256, (4, 6, 3), np.uint8)
  np.testing.assert_array_equal(stylizers.blend(photo, stylized, 0.0), photo)
  np.testing.assert_array_equal(stylizers.blend(photo, stylized, 1.0), stylized)
  half = stylizers.blend(photo, stylized, 0.5).astype(int)
  assert np.abs(half - (photo.astype(int) + stylized) / 2).max() <= 0.5


def test_a_bad_strength_or_style_is_named(keras_model_path):
  stylizer = stylizers.load_stylizer(keras_model_path)
  with pytest.raises(stylizers.StylizeError, match="--strength must be from 0 to 1, got 2"):
    stylizer.set_style("", 2)
  assert stylizer.style_names == () and stylizer.set_style("", 0.5).strength == 0.5
