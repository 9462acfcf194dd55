import keras
import numpy as np
import pytest

import darknet_files
from fastchi_tf import darknet

# A narrow backbone of the same shape, so files stay a few kilobytes.
SMALL = (2, 3, 4, 5, 6, 7, 8, 9)


def _darknet_arrays(filters):
  """Per convolution, Darknet-ordered arrays with values distinct across the whole file."""
  convs, channels, next_value = [], 3, 1.0
  for n in filters:
    conv = {}
    for key, shape in [("biases", (n,)), ("scales", (n,)), ("rolling_mean", (n,)),
                       ("rolling_variance", (n,)), ("weights", (n, channels, 3, 3))]:
      size = int(np.prod(shape))
      conv[key] = (next_value + np.arange(size, dtype="float32")).reshape(shape)
      next_value += size
    convs.append(conv)
    channels = n
  return convs


def _write_by_hand(path, convs, major=0, minor=2, revision=0, seen=123, seen_dtype="<i8",
                   trailing=()):
  """The .weights layout written straight from Darknet's parser.c, not through the module."""
  with open(path, "wb") as f:
    f.write(np.array([major, minor, revision], "<i4").tobytes())
    f.write(np.array([seen], seen_dtype).tobytes())
    for conv in convs:
      for key in ("biases", "scales", "rolling_mean", "rolling_variance", "weights"):
        f.write(conv[key].astype("<f4").tobytes())
    f.write(np.asarray(trailing, "<f4").tobytes())
  return str(path)


def _detection_conv(n, channels):
  return np.arange(n * (1 + channels), dtype="float32")  # biases[n], then weights[n, c, 1, 1]


def test_backbone_matches_the_tiny_yolo_voc_cfg(rng):
  model = darknet.build_tiny_yolo()
  assert model.count_params() == darknet.backbone_size(darknet.TINY_YOLO_VOC) == 15739760
  assert not any(isinstance(l, keras.layers.Lambda) for l in model.layers)
  leaky = [l.name for l in model.layers if isinstance(l, keras.layers.LeakyReLU)]
  assert leaky == [f"leaky{i}" for i in range(1, 9)]
  assert model.get_layer("bn1").epsilon == darknet.BN_EPSILON
  assert not model.get_layer("conv1").use_bias
  # Odd sizes round up at each stride-2 pool, as Darknet's (w + 1 - 2) / 2 + 1; the last pool
  # keeps the size.
  y = model(rng.uniform(0, 255, (1, 40, 72, 3)).astype("float32"))
  assert y.shape == (1, 2, 3, 1024)


def test_small_backbone_round_trips_through_keras_safe_mode(tmp_path):
  model = darknet.build_tiny_yolo(SMALL)
  path = str(tmp_path / "small.keras")
  model.save(path)
  clone = keras.models.load_model(path, safe_mode=True)
  assert [l.name for l in clone.layers] == [l.name for l in model.layers]


def test_every_array_lands_in_its_variable(tmp_path):
  convs = _darknet_arrays(SMALL)
  path = _write_by_hand(tmp_path / "small.weights", convs)
  model = darknet.build_tiny_yolo(SMALL)
  header = darknet.load_weights(model, path)
  assert (header.major, header.minor, header.revision, header.seen) == (0, 2, 0, 123)
  for i, conv in enumerate(convs, 1):
    gamma, beta, mean, variance = model.get_layer(f"bn{i}").get_weights()
    np.testing.assert_array_equal(beta, conv["biases"])
    np.testing.assert_array_equal(gamma, conv["scales"])
    np.testing.assert_array_equal(mean, conv["rolling_mean"])
    np.testing.assert_array_equal(variance, conv["rolling_variance"])
    kernel = model.get_layer(f"conv{i}").get_weights()[0]  # [kh, kw, c, n]
    for n, c, ky, kx in np.ndindex(conv["weights"].shape):
      assert kernel[ky, kx, c, n] == conv["weights"][n, c, ky, kx]


def test_first_layer_computes_darknets_convolution(tmp_path, rng):
  """Darknet's im2col reads input[c, y + ky - 1, x + kx - 1] for weights[n, c, ky, kx]."""
  convs = _darknet_arrays(SMALL)
  # A kernel with no symmetry, so a swapped axis shows.
  convs[0]["weights"] = rng.normal(size=convs[0]["weights"].shape).astype("float32")
  model = darknet.build_tiny_yolo(SMALL)
  darknet.load_weights(model, _write_by_hand(tmp_path / "small.weights", convs))
  image = rng.uniform(0, 255, (1, 5, 6, 3)).astype("float32")
  leaky1 = keras.Model(model.input, model.get_layer("leaky1").output)(image).numpy()[0]

  x = np.pad(image[0] / 255.0, ((1, 1), (1, 1), (0, 0)))
  w, c = convs[0]["weights"], convs[0]
  expected = np.zeros((5, 6, 2))
  for n in range(2):
    for y in range(5):
      for xx in range(6):
        expected[y, xx, n] = np.sum(w[n].transpose(1, 2, 0) * x[y:y + 3, xx:xx + 3])
  expected = ((expected - c["rolling_mean"]) / np.sqrt(c["rolling_variance"] + 1e-5)
              * c["scales"] + c["biases"])
  expected = np.where(expected > 0, expected, 0.1 * expected)
  np.testing.assert_allclose(leaky1, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("version,seen_dtype", [
    ((0, 1, 0), "<i4"),  # tiny-yolo-voc.weights era: an int `seen`
    ((0, 2, 0), "<i8"),  # from version 0.2 on: a size_t
    ((1000, 2, 0), "<i4"),  # parser.c only widens for major and minor below 1000
])
def test_both_header_variants_load(tmp_path, version, seen_dtype):
  convs = _darknet_arrays(SMALL)
  path = _write_by_hand(tmp_path / "small.weights", convs, *version, seen=2 ** 20,
                        seen_dtype=seen_dtype)
  model = darknet.build_tiny_yolo(SMALL)
  header = darknet.load_weights(model, path)
  assert (header.major, header.minor, header.revision, header.seen) == (*version, 2 ** 20)
  np.testing.assert_array_equal(model.get_layer("bn8").get_weights()[3],
                                convs[-1]["rolling_variance"])


def test_writer_matches_the_layout_and_round_trips(tmp_path):
  convs = _darknet_arrays(SMALL)
  by_hand = _write_by_hand(tmp_path / "hand.weights", convs, 0, 1, 0, seen=7, seen_dtype="<i4")
  model = darknet.build_tiny_yolo(SMALL)
  darknet.load_weights(model, by_hand)
  written = str(tmp_path / "written.weights")
  darknet_files.write_weights(written, model, darknet.Header(0, 1, 0, seen=7))
  with open(by_hand, "rb") as a, open(written, "rb") as b:
    assert a.read() == b.read()


def test_writer_takes_a_detection_conv_and_the_loader_skips_it(tmp_path):
  model = darknet.build_tiny_yolo(SMALL)
  darknet.load_weights(model, _write_by_hand(tmp_path / "a.weights", _darknet_arrays(SMALL)))
  detection = dict(kernel=np.ones((1, 1, 9, 5), "float32"), bias=np.zeros(5, "float32"))
  path = str(tmp_path / "with_detection.weights")
  darknet_files.write_weights(path, darknet_files.conv_arrays(model) + [detection])
  _, values = darknet.read_weights(path)
  assert values.size == darknet.backbone_size(SMALL) + 5 * (1 + 9)
  clone = darknet.build_tiny_yolo(SMALL)
  darknet.load_weights(clone, path)
  for a, b in zip(clone.get_weights(), model.get_weights()):
    np.testing.assert_array_equal(a, b)


def test_truncated_file_is_rejected_naming_it(tmp_path):
  path = _write_by_hand(tmp_path / "short.weights", _darknet_arrays(SMALL))
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:-4])
  with pytest.raises(ValueError, match=r"short\.weights is truncated"):
    darknet.load_weights(darknet.build_tiny_yolo(SMALL), path)
  with open(path, "wb") as f:
    f.write(data[:14])
  with pytest.raises(ValueError, match=r"short\.weights is truncated inside its header"):
    darknet.load_weights(darknet.build_tiny_yolo(SMALL), path)


@pytest.mark.parametrize("trailing_bytes,match", [
    (np.zeros(3, "<f4").tobytes(), "3 unread values"),
    (b"\0\0", "whole float32 values"),
])
def test_trailing_data_other_than_a_detection_conv_is_rejected(tmp_path, trailing_bytes, match):
  path = _write_by_hand(tmp_path / "long.weights", _darknet_arrays(SMALL))
  with open(path, "ab") as f:
    f.write(trailing_bytes)
  with pytest.raises(ValueError, match=rf"long\.weights .*{match}"):
    darknet.load_weights(darknet.build_tiny_yolo(SMALL), path)


def test_infer_filters_tells_the_cfgs_apart(tmp_path):
  cfgs = {"voc": SMALL, "coco": SMALL[:-1] + (4,)}
  for filters, n_detection in [(SMALL, 125), (cfgs["coco"], 425), (SMALL, 0)]:
    path = _write_by_hand(tmp_path / "a.weights", _darknet_arrays(filters),
                          trailing=_detection_conv(n_detection, filters[-1]))
    assert darknet.infer_filters(path, cfgs) == filters
  path = _write_by_hand(tmp_path / "b.weights", _darknet_arrays(SMALL[:-1] + (6,)))
  with pytest.raises(ValueError, match=r"b\.weights \(\d+ values\) fits none of voc, coco"):
    darknet.infer_filters(path, cfgs)


@pytest.mark.parametrize("filters,n_detection", [
    (darknet.TINY_YOLO_VOC, 125),  # tiny-yolo-voc.weights: 20 classes x 5 anchors
    (darknet.YOLOV2_TINY, 425),  # yolov2-tiny.weights: 80 classes x 5 anchors
])
def test_full_size_files_are_told_apart(tmp_path, filters, n_detection):
  values = darknet.backbone_size(filters) + n_detection * (1 + filters[-1])
  path = str(tmp_path / "full.weights")
  with open(path, "wb") as f:
    f.write(np.array([0, 2, 0, 0, 0], "<i4").tobytes())
    f.write(np.zeros(values, "<f4").tobytes())
  assert darknet.infer_filters(path) == filters
