import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import darknet_files
from fastchi_tf import build_loss_net, darknet, losses
from fastchi_tf import loss_net as loss_net_lib


def test_hed_weights_equal_the_arrays_in_the_package_file(hed_vgg16):
  extractor = hed_vgg16.layers[-1]
  with h5py.File(loss_net_lib.hed_weights_path(), "r") as f:
    for keras_name, group in [("block1_conv1", "block1/layers/conv2d"),
                              ("block3_conv3", "block3/layers/conv2d_2"),
                              ("block4_conv2", "block4/layers/conv2d_1")]:
      kernel, bias = extractor.get_layer(keras_name).get_weights()
      np.testing.assert_array_equal(kernel, f[group]["vars/0"][()])
      np.testing.assert_array_equal(bias, f[group]["vars/1"][()])


def test_outputs_are_named_frozen_features(hed_vgg16, rng):
  assert hed_vgg16.content_layers == ("relu2_2",)
  assert hed_vgg16.style_layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
  assert not hed_vgg16.trainable_weights
  x = rng.uniform(0, 255, size=(2, 32, 48, 3)).astype("float32")
  features = hed_vgg16(x)
  assert set(features) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
  assert features["relu1_2"].shape == (2, 32, 48, 64)
  assert features["relu4_3"].shape == (2, 4, 6, 512)
  assert features["relu3_3"].dtype == tf.float32
  assert np.all(features["relu2_2"].numpy() >= 0)  # they are ReLU outputs


def test_preprocessing_is_caffe_bgr_minus_mean():
  layer = loss_net_lib.CaffePreprocess((1.0, 2.0, 3.0))
  y = layer(np.array([[[[10.0, 20.0, 30.0]]]], "float32"))
  np.testing.assert_allclose(y[0, 0, 0], [29.0, 18.0, 7.0])


def test_vgg19_default_and_configured_layers():
  model = build_loss_net("vgg19", weights="random", content_layers=["relu3_1"],
                         style_layers=["relu1_1", "relu2_2"])
  assert model.content_layers == ("relu3_1",)
  assert set(model(np.zeros((1, 16, 16, 3), "float32"))) == {"relu3_1", "relu1_1", "relu2_2"}
  default = build_loss_net("vgg19", weights="random")
  assert default.content_layers == ("relu4_2",)
  assert default.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_random_weights_repeat_with_the_seed(rng):
  x = rng.uniform(0, 255, size=(1, 16, 16, 3)).astype("float32")
  kw = dict(content_layers=["relu2_1"], style_layers=["relu1_1"])
  a = build_loss_net("vgg19", "random", seed=3, **kw)(x)["relu2_1"]
  b = build_loss_net("vgg19", "random", seed=3, **kw)(x)["relu2_1"]
  c = build_loss_net("vgg19", "random", seed=4, **kw)(x)["relu2_1"]
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


def _write_keras_applications_file(path, model):
  """Writes `model`'s weights in keras.applications' legacy HDF5 layout."""
  with h5py.File(path, "w") as f:
    with_weights = [l for l in model.layers if l.weights]
    f.attrs["layer_names"] = [l.name.encode() for l in with_weights]
    for layer in with_weights:
      group = f.create_group(layer.name)
      names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
      group.attrs["weight_names"] = names
      for name, value in zip(names, layer.get_weights()):
        group.create_dataset(name.decode(), data=value)


def test_weights_file_in_keras_applications_layout_loads(tmp_path, rng):
  source = keras.applications.VGG16(include_top=False, weights=None)
  loss_net_lib.randomize_weights(source, seed=7)
  path = str(tmp_path / "vgg16_notop.h5")
  _write_keras_applications_file(path, source)
  model = build_loss_net("vgg16", weights=path)
  kernel = model.layers[-1].get_layer("block2_conv1").get_weights()[0]
  np.testing.assert_array_equal(kernel, source.get_layer("block2_conv1").get_weights()[0])


def test_mismatched_weights_file_is_rejected(tmp_path):
  source = keras.applications.VGG16(include_top=False, weights=None)
  path = str(tmp_path / "vgg16_notop.h5")
  _write_keras_applications_file(path, source)
  with pytest.raises(ValueError, match="does not fit"):
    build_loss_net("vgg19", weights=path)


def test_an_unreadable_weights_file_or_no_network_is_one_clear_error(tmp_path, monkeypatch):
  path = tmp_path / "vgg16.keras"
  path.write_bytes(b"random bytes, not a zip")
  with pytest.raises(ValueError, match="does not fit"):
    build_loss_net("vgg16", weights=str(path))
  def offline(**kwargs):
    raise Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- "  # noqa
                    "[Errno -2] Name or service not known")
  monkeypatch.setattr(keras.applications, "VGG19", offline)
  with pytest.raises(ValueError, match="cannot download the VGG19 ImageNet weights .*"
                     "--loss_net vgg16 --loss_weights hed"):
    build_loss_net("vgg19", weights="imagenet")


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(name="resnet50"), ValueError, "unknown loss network 'resnet50'"),
    (dict(weights="places365"), ValueError, "unknown loss network weights 'places365'"),
    (dict(name="vgg19", weights="hed"), ValueError, "VGG16"),
    (dict(weights="random", style_layers=["relu9_9"]), ValueError, "relu9_9.*relu1_1"),
    (dict(weights="/nonexistent/vgg19.h5"), FileNotFoundError, "/nonexistent/vgg19.h5"),
    (dict(name="tiny_yolo"), ValueError, r"'imagenet' is not available for tiny_yolo.*random"),
    (dict(name="tiny_yolo", weights="hed"), ValueError, "not available for tiny_yolo"),
    (dict(name="tiny_yolo", weights="yolo.h5"), ValueError, "'yolo.h5'.*Darknet .weights"),
    (dict(name="tiny_yolo", weights="/nonexistent/tiny-yolo-voc.weights"), FileNotFoundError,
     "tiny-yolo-voc.weights"),
    (dict(name="tiny_yolo", weights="random", style_layers=["leaky9"]), ValueError,
     "leaky9.*leaky1, leaky2, leaky3, leaky4, leaky5, leaky6, leaky7, leaky8, pixels$"),
    (dict(name="tiny_yolo", weights="random", content_layers=["relu4_2"]), ValueError,
     "tiny_yolo layer 'relu4_2'"),
])
def test_bad_arguments_name_the_problem(kwargs, error, match):
  with pytest.raises(error, match=match):
    build_loss_net(**kwargs)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_optimising_an_image_lowers_the_hed_style_loss(hed_vgg16, rng):
  style = np.zeros((64, 64, 3), "float32")
  style[::8] = [255, 40, 0]  # orange stripes on black
  targets = losses.style_targets(hed_vgg16, style)
  image = tf.Variable(rng.uniform(100, 150, size=(1, 48, 48, 3)).astype("float32"))
  optimizer = keras.optimizers.Adam(learning_rate=5.0)

  def loss():
    return losses.style_loss(hed_vgg16(image), targets)[0][0]

  before = float(loss())
  for _ in range(10):
    with tf.GradientTape() as tape:
      value = loss()
    optimizer.apply_gradients([(tape.gradient(value, image), image)])
  assert float(loss()) < 0.5 * before


def test_style_targets_resize_to_style_size(hed_vgg16, rng):
  style = rng.uniform(0, 255, size=(40, 80, 3)).astype("float32")
  small = losses.style_targets(hed_vgg16, style, style_size=20)
  assert small["relu1_2"].shape == (64, 64)
  full = losses.style_targets(hed_vgg16, style)
  assert not np.allclose(small["relu1_2"], full["relu1_2"])


def test_tiny_yolo_is_a_named_loss_net():
  assert "tiny_yolo" in loss_net_lib.NAMES
  assert loss_net_lib.layer_names("tiny_yolo") == tuple(f"leaky{i}" for i in range(1, 9)) + (
      "pixels",)


def test_tiny_yolo_defaults_are_frozen_named_features(rng):
  model = build_loss_net("tiny_yolo", weights="random")
  assert model.content_layers == ("leaky4",)
  assert model.style_layers == ("leaky1", "leaky2", "leaky3", "leaky5")
  assert not model.trainable_weights
  x = rng.uniform(0, 255, size=(2, 32, 48, 3)).astype("float32")
  features = model(x)
  assert {k: tuple(v.shape) for k, v in features.items()} == {
      "leaky1": (2, 32, 48, 16), "leaky2": (2, 16, 24, 32), "leaky3": (2, 8, 12, 64),
      "leaky4": (2, 4, 6, 128), "leaky5": (2, 2, 3, 256)}
  # Batch norms use their moving statistics even in training mode.
  np.testing.assert_array_equal(model(x, training=True)["leaky4"], features["leaky4"])


@pytest.mark.parametrize("filters,n_detection", [
    (darknet.TINY_YOLO_VOC, 125),  # tiny-yolo-voc.weights: version 0.1, an int `seen`
    (darknet.YOLOV2_TINY, 425),  # yolov2-tiny.weights: version 0.2, a size_t `seen`
])
def test_tiny_yolo_loads_a_full_darknet_file(tmp_path, rng, filters, n_detection):
  source = darknet.build_tiny_yolo(filters)
  loss_net_lib.randomize_weights(source, seed=5)
  for i in range(1, 9):  # batch norms other than the identity
    bn = source.get_layer(f"bn{i}")
    bn.set_weights([rng.uniform(0.5, 2.0, w.shape).astype("float32") for w in bn.weights])
  detection = dict(kernel=np.ones((1, 1, filters[-1], n_detection), "float32"),
                   bias=np.zeros(n_detection, "float32"))
  version = (0, 1, 0) if n_detection == 125 else (0, 2, 0)
  path = str(tmp_path / "tiny.weights")
  darknet_files.write_weights(path, darknet_files.conv_arrays(source) + [detection],
                        darknet.Header(*version, seen=64000))
  model = build_loss_net("tiny_yolo", weights=path, style_layers=["leaky1", "leaky8"])
  np.testing.assert_array_equal(model.get_layer("conv8").get_weights()[0],
                                source.get_layer("conv8").get_weights()[0])
  x = rng.uniform(0, 255, size=(1, 32, 32, 3)).astype("float32")
  expected = keras.Model(source.input, source.get_layer("leaky4").output)(x)
  features = model(x)
  np.testing.assert_allclose(features["leaky4"], expected, rtol=1e-5, atol=1e-5)
  assert features["leaky8"].shape == (1, 1, 1, filters[-1])


def test_tiny_yolo_perceptual_loss_step_is_finite(rng):
  model = build_loss_net("tiny_yolo", weights="random", seed=1)
  targets = losses.style_targets(model, rng.uniform(0, 255, (40, 40, 3)).astype("float32"))
  content = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
  image = tf.Variable(rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32"))
  with tf.GradientTape() as tape:
    total, terms = losses.perceptual_loss(model(image), model(content), targets, image,
                                          model.content_layers, tv_weight=1e-4)
    value = tf.reduce_sum(total)
  grad = tape.gradient(value, image)
  assert set(terms) >= {"content", "style", "tv", "style/leaky5"}
  assert np.isfinite(value.numpy()) and value.numpy() > 0
  assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0)


def test_the_pixels_layer_matches_a_paintings_colour_mean_and_covariance(rng):
  """A style term on "pixels" is zero exactly when the colours' mean and second moments are
  the painting's, and it tells apart two pictures that differ only in palette."""
  net = build_loss_net("vgg16", weights="random", content_layers=["relu1_1"],
                       style_layers=["relu1_1", "pixels"])
  assert net.style_layers == ("relu1_1", "pixels")
  painting = rng.uniform(0, 255, (24, 24, 3)).astype(np.float32)
  out = net(painting[None])["pixels"].numpy()
  assert out.shape == (1, 24, 24, 4)
  np.testing.assert_allclose(out[..., :3], painting[None] / 255.0 - 0.5, atol=1e-6)
  np.testing.assert_allclose(out[..., 3], 0.2)
  targets = losses.style_targets(net, painting)
  # The same colours in another arrangement: the palette matches, so only relu1_1 differs.
  shuffled = rng.permutation(painting.reshape(-1, 3)).reshape(painting.shape)
  _, terms = losses.style_loss(net(shuffled[None]), targets, layer_norm="target")
  assert float(terms["pixels"][0]) < 1e-10 and float(terms["relu1_1"][0]) > 1e-4
  # A bluer picture of the same arrangement: the pixels term sees the palette change.
  bluer = painting * np.float32([0.7, 0.8, 1.0])
  _, terms = losses.style_loss(net(bluer[None]), targets, layer_norm="target")
  assert float(terms["pixels"][0]) > 1e-3
  # Colours alone need no VGG.
  alone = build_loss_net("vgg16", weights="random", content_layers=["pixels"],
                         style_layers=["pixels"])
  assert not any("vgg" in l.name for l in alone.layers)
