import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import layers

ALL_LAYERS = [
    layers.ReflectionPad2D(2),
    layers.InstanceNorm(epsilon=1e-3),
    layers.PadToMultiple(multiple=4, minimum=8),
    layers.NearestUpsample2D(2),
    layers.ConvLayer(6, 3, strides=2),
    layers.ConvLayer(6, 3, upsample=2),
    layers.ConvLayer(6, 3, strides=2, transpose=True),
    layers.InceptionConv(8, 3, shrink=2),
    layers.InceptionConv(8, 3, upsample=2, shrink=4),
    layers.ClipPixels(),
    layers.StyleAffine(),
    layers.Tanh(0.1),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda l: type(l).__name__)
def test_layer_config_round_trip(layer, rng):
  x = rng.uniform(size=(2, 9, 11, 8)).astype("float32")
  y = layer(x)
  clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
  assert clone.get_config() == layer.get_config()
  clone(x)  # build
  clone.set_weights(layer.get_weights())
  np.testing.assert_allclose(clone(x), y, rtol=1e-5, atol=1e-5)


def test_reflection_pad_mirrors_without_repeating_the_edge():
  x = tf.reshape(tf.range(3, dtype=tf.float32), [1, 1, 3, 1])
  y = layers.ReflectionPad2D(1)(tf.tile(x, [1, 3, 1, 1]))
  np.testing.assert_array_equal(y[0, 1, :, 0], [1, 0, 1, 2, 1])


def test_instance_norm_normalizes_each_image_and_channel(rng):
  x = rng.normal(3.0, 5.0, size=(2, 6, 7, 4)).astype("float32")
  y = layers.InstanceNorm()(x).numpy()
  np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


@pytest.mark.parametrize("size", [(1, 1), (5, 9), (8, 8), (13, 4)])
def test_pad_then_crop_is_identity(size, rng):
  x = rng.uniform(size=(1, *size, 2)).astype("float32")
  padded = layers.PadToMultiple(4, 8)(x)
  assert padded.shape[1] % 4 == 0 and padded.shape[2] % 4 == 0
  assert padded.shape[1] >= 8 and padded.shape[2] >= 8
  np.testing.assert_array_equal(layers.CropToReference()([padded, x]), x)


def test_pad_to_multiple_inside_dataset_map_matches_eager(rng):
  x = rng.uniform(size=(5, 9, 3)).astype("float32")
  layer = layers.PadToMultiple(4, 8)
  mapped = next(iter(tf.data.Dataset.from_tensors(x).map(lambda t: layer(t[None])[0])))
  np.testing.assert_array_equal(mapped, layer(x[None])[0])


def test_inception_conv_rejects_indivisible_channels():
  with pytest.raises(ValueError, match="divisible"):
    layers.InceptionConv(6, 3, shrink=4)


def test_nearest_upsample_repeats_each_pixel(rng):
  x = rng.uniform(size=(1, 3, 5, 2)).astype("float32")
  expected = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
  np.testing.assert_array_equal(layers.NearestUpsample2D(2)(x), expected)
  with layers.tflite_graph():  # a channel concatenation and depth_to_space
    np.testing.assert_array_equal(layers.NearestUpsample2D(2)(x), expected)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (9, 11)])
def test_reflection_pad_matches_tf_pad_with_static_and_dynamic_shapes(size, rng):
  x = rng.uniform(size=(2, *size, 3)).astype("float32")
  pad = min(size) - 1 if min(size) < 3 else 2
  expected = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
  layer = layers.ReflectionPad2D(pad)
  dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
  np.testing.assert_array_equal(layer(x), expected)
  np.testing.assert_array_equal(dynamic(x), expected)
  with layers.tflite_graph():  # slices and concatenations (XNNPACK's ops)
    np.testing.assert_array_equal(layer(x), expected)
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
    np.testing.assert_array_equal(traced(x), expected)


@pytest.mark.parametrize("kernel,block", [(9, 2), (9, 4), (3, 3)])
def test_space_to_depth_conv_matches_the_plain_conv(kernel, block, rng):
  layer = layers.ConvLayer(3, kernel)
  x = rng.uniform(-1, 1, size=(2, 13, 10, 8)).astype("float32")
  plain = layer(x)
  layer.space_to_depth = block
  dynamic = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 8])])
  np.testing.assert_allclose(layer(x), plain, atol=1e-5)
  np.testing.assert_allclose(dynamic(x), plain, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 3])
def test_fused_inference_instance_norm_matches_the_training_path(batch, rng):
  layer = layers.InstanceNorm()
  x = rng.normal(2.0, 3.0, size=(batch, 6, 7, 4)).astype("float32")
  layer(x)
  layer.set_weights([rng.normal(size=4).astype("float32") for _ in range(2)])
  np.testing.assert_allclose(layer(x, training=False), layer(x, training=True), atol=1e-5)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_instance_norm_stays_accurate_over_millions_of_pixels(rng):
  # A 2560x1440 image with a large mean (ReLU-like activations): a one-pass float32 sum
  # over its 3.7M pixels drifts; every path must match float64 normalization.
  x = (np.maximum(rng.normal(0.5, 1.0, (1, 1440, 2560, 2)), 0) + 3.0).astype(np.float32)
  x64 = x.astype(np.float64)
  mean = x64.mean(axis=(1, 2), keepdims=True)
  expected = (x64 - mean) / np.sqrt(((x64 - mean) ** 2).mean(axis=(1, 2), keepdims=True) + 1e-5)
  layer = layers.InstanceNorm()
  layer.build(x.shape)
  dynamic = tf.function(lambda t: layer(t, training=False),
                        input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)])
  any_size = tf.function(lambda t: layer(t, training=False),
                         input_signature=[tf.TensorSpec([1, None, None, 2], tf.float32)])
  with layers.statistics_by_size():  # traced here: the size chooses the statistics
    any_size.get_concrete_function()
  for path, out in (("static-batch inference (fused kernel)", layer(x, training=False)),
                    ("dynamic batch", dynamic(x)),
                    ("batch 1, any size (the SavedModel's)", any_size(x)),
                    ("training", layer(x, training=True))):
    assert np.abs(out.numpy() - expected).max() < 2e-3, path
  # Below FUSED_MAX_PIXELS the size chose the kernel's own statistics, as a static trace
  # does, not moments' (which differ by ~1e-3 on this image's large mean).
  small = x[:, :300, :400]
  np.testing.assert_allclose(any_size(small), layer(small, training=False), atol=1e-5)
  assert np.abs(any_size(small).numpy() - dynamic(small).numpy()).max() > 1e-4


def test_style_affine_scales_and_shifts_by_the_styles_mix_without_statistics(rng):
  layer = layers.StyleAffine(num_styles=2)
  x = rng.normal(3.0, 5.0, size=(2, 5, 6, 4)).astype("float32")
  style = np.array([[1.0, 0.0], [0.25, 0.75]], np.float32)
  layer([x, style])
  gamma, beta = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
  layer.set_weights([gamma, beta])
  y = layer([x, style]).numpy()
  np.testing.assert_allclose(y[0], x[0] * gamma[0] + beta[0], rtol=1e-5, atol=1e-5)
  mix_g, mix_b = 0.25 * gamma[0] + 0.75 * gamma[1], 0.25 * beta[0] + 0.75 * beta[1]
  np.testing.assert_allclose(y[1], x[1] * mix_g + mix_b, rtol=1e-5, atol=1e-5)
  # Each pixel is its own: a spike elsewhere in the image changes nothing here (an instance
  # norm's output everywhere would shrink).
  spiked = x.copy()
  spiked[:, 0, 0] += 1000.0
  np.testing.assert_array_equal(layer([spiked, style]).numpy()[:, 1:], y[:, 1:])
  assert isinstance(layers.InstanceNorm(), layers.StyleAffine)  # its rows grow alike


def test_tanh_is_exact_forward_and_floors_its_gradient_only_in_training():
  x = tf.constant([-200.0, -1.0, 0.0, 0.5, 130.0])
  layer = layers.Tanh(floor=0.1)
  for training in (True, False):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, training=training)
    np.testing.assert_array_equal(y, tf.tanh(x))
    grad = tape.gradient(y, x).numpy()
    plain = 1.0 - np.tanh(x.numpy()) ** 2
    # A saturated input (the droplet's 130) still passes a tenth of the gradient.
    np.testing.assert_allclose(grad, plain + 0.1 if training else plain, rtol=1e-6)


def test_clip_pixels_clips_with_a_straight_through_gradient():
  x = tf.constant([-40.0, 0.0, 100.0, 255.0, 300.0])
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layers.ClipPixels()(x)
    loss = tf.reduce_sum(y * tf.constant([1.0, 2.0, 3.0, 4.0, 5.0]))
  np.testing.assert_array_equal(y, [0.0, 0.0, 100.0, 255.0, 255.0])
  # Past the range the gradient still arrives, so a pixel stuck at 0 or 255 can come back.
  np.testing.assert_array_equal(tape.gradient(loss, x), [1.0, 2.0, 3.0, 4.0, 5.0])


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_a_shipped_model_loads_after_import_fastchi_tf_alone():
  # keras.saving.load_model failed with "Could not locate class 'PadToMultiple'" unless
  # fastchi_tf.layers happened to be imported. A fresh interpreter: this one has it.
  from fastchi_tf import shipped
  script = ("import sys, fastchi_tf\n"
            "assert 'tensorflow' not in sys.modules  # (the light install's import)\n"
            "model = fastchi_tf.load_model(sys.argv[1])\n"
            "print(model.name, [tuple(i.shape) for i in model.inputs])")
  result = subprocess.run([sys.executable, "-c", script, shipped.path("keras")],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert result.returncode == 0, result.stderr
  assert result.stdout.split()[0] == "render_inception", result.stdout
