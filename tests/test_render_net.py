import keras
import numpy as np
import pytest

from fastchi_tf import build_render_net
from fastchi_tf import render_net
from fastchi_tf.flops import count_flops
from fastchi_tf.render_net import use_space_to_depth


@pytest.mark.parametrize("variant", ["original", "inception"])
@pytest.mark.parametrize("size", [(1, 1), (33, 47), (257, 511)])
def test_output_has_exactly_the_input_size_and_pixel_range(variant, size, rng):
  # The tanh head reaches past [0, 255] before its clip: this bias puts most pixels there.
  model = build_render_net(variant, width=8, shrink=2,
                           output_activation="sigmoid" if variant == "original" else "tanh")
  model.get_layer("c2_conv").weights[-1].assign([3.0, -3.0, 0.0])
  x = rng.uniform(0, 255, size=(1, *size, 3)).astype("float32")
  y = model(x).numpy()
  assert y.shape == x.shape and y.dtype == np.float32
  assert y.min() >= 0.0 and y.max() <= 255.0


def test_transpose_upsampling_keeps_odd_sizes(rng):
  model = build_render_net("original", width=8, upsample="transpose")
  x = rng.uniform(0, 255, size=(2, 31, 18, 3)).astype("float32")
  assert model(x).shape == x.shape


def test_original_has_the_pytorch_transformer_net_parameter_count():
  assert build_render_net("original", width=32, upsample="nearest").count_params() == 1_679_235


@pytest.mark.parametrize("width", [16, 32])
@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_inception_has_under_40_percent_of_the_parameters(width):
  original = build_render_net("original", width=width).count_params()
  inception = build_render_net("inception", width=width, shrink=2).count_params()
  assert inception < 0.4 * original


def test_residual_blocks_are_a_setting():
  # Each block is two 3x3 convolutions of 4W channels (and their norms): 2 * (9 * 32 * 32 +
  # 32 + 2 * 32) parameters at width 8.
  one, five = (build_render_net("original", width=8, residual_blocks=n) for n in (1, 5))
  assert five.count_params() - one.count_params() == 4 * 2 * (9 * 32 * 32 + 32 + 2 * 32)
  assert (render_net.residual_blocks(one), render_net.residual_blocks(five)) == (1, 5)


def test_inception_layers_shrink_channels_by_k():
  model = build_render_net("inception", width=16, shrink=4)
  block = model.get_layer("r1a_conv")
  assert block.reduce.filters == 64 // 4 and block.spatial.filters == 64 // 4
  assert block.expand.filters == 64
  # The convolutions next to RGB stay plain 9x9.
  assert model.get_layer("c1_conv").conv.kernel_size == (9, 9)
  assert model.get_layer("c2_conv").conv.kernel_size == (9, 9)


@pytest.mark.parametrize("variant,upsample,output", [("original", "nearest", "sigmoid"),
                                                     ("inception", "transpose", "tanh")])
@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_keras_file_round_trip_under_safe_mode(variant, upsample, output, tmp_path, rng):
  model = build_render_net(variant, width=8, upsample=upsample, output_activation=output,
                           residual_blocks=1)
  x = rng.uniform(0, 255, size=(2, 21, 30, 3)).astype("float32")
  path = str(tmp_path / "render.keras")
  model.save(path)
  loaded = keras.saving.load_model(path, safe_mode=True)
  np.testing.assert_allclose(loaded(x), model(x), atol=1e-3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(variant="resnet"), "variant"),
    (dict(upsample="bilinear"), "upsample"),
    (dict(output_activation="relu"), "output activation 'relu'"),
    (dict(width=0), "width"),
    (dict(variant="inception", width=30, shrink=4), "divisible"),
    (dict(variant="inception", shrink=0), "shrink"),
    (dict(residual_blocks=0), "residual_blocks must be a positive integer, got 0"),
    (dict(trunk_norm="batch"), "unknown trunk norm 'batch'; choose one of"),
    (dict(output_activation="tanh", tanh_gradient_floor=1.0), "in \\[0, 1\\), got 1.0"),
    (dict(tanh_gradient_floor=0.1), "needs output_activation='tanh'"),
    (dict(colour_skip=True), "colour_skip needs output_activation='tanh'"),
])
def test_bad_arguments_name_the_value_and_choices(kwargs, match):
  with pytest.raises(ValueError, match=match):
    build_render_net(**kwargs)


@pytest.mark.slow  # over 5 s: make test, not test-fast
@pytest.mark.parametrize("variant", ["original", "inception"])
def test_space_to_depth_copy_keeps_the_output_and_leaves_the_model_alone(variant, rng):
  model = build_render_net(variant, width=8, residual_blocks=1)
  x = rng.uniform(0, 255, size=(1, 30, 21, 3)).astype("float32")
  plain, flops = model(x).numpy(), count_flops(model, 32, 32)
  fast = use_space_to_depth(model)
  assert fast.get_layer("c2_conv").space_to_depth == 2
  assert model.get_layer("c2_conv").space_to_depth == 1
  np.testing.assert_allclose(fast(x), plain, atol=1e-2)
  assert count_flops(fast, 32, 32) > flops  # its zero taps count
  assert count_flops(model, 32, 32) == flops
  assert count_flops(use_space_to_depth(fast, block=1), 32, 32) == flops


def test_affine_trunk_has_no_statistics_after_the_encoder(tmp_path, rng):
  model = build_render_net("inception", width=8, styles=("a", "b"), residual_blocks=2,
                           trunk_norm="affine", output_activation="tanh",
                           tanh_gradient_floor=0.1)
  kinds = {l.name: type(l).__name__ for l in model.layers if l.name.endswith("_norm")}
  assert kinds == {"c1_norm": "InstanceNorm", "d1_norm": "InstanceNorm",
                   "d2_norm": "InstanceNorm", **{f"{n}_norm": "StyleAffine" for n in
                                                 ("r1a", "r1b", "r2a", "r2b", "u1", "u2")}}
  path = str(tmp_path / "affine.keras")
  model.save(path)
  loaded = keras.saving.load_model(path, safe_mode=True)
  x = rng.uniform(0, 255, size=(1, 20, 24, 3)).astype("float32")
  style = np.array([[0.5, 0.5]], np.float32)
  np.testing.assert_allclose(loaded([x, style]), model([x, style]), atol=1e-3)
  assert loaded.get_layer("squash").floor == 0.1


def _silent_head(model):
  """`model` with its last convolution zeroed: its output is the colour skip's alone."""
  conv = model.get_layer("c2_conv")
  conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
  return model


def test_the_colour_skip_gives_each_channel_the_paintings_mean_and_spread(rng):
  model = _silent_head(build_render_net("inception", width=8, styles=("a", "b"),
                                        residual_blocks=1, output_activation="tanh",
                                        colour_skip=True))
  paintings = [rng.uniform(20, 120, (30, 40, 3)), rng.uniform(100, 250, (50, 20, 3))]
  paintings[1][..., 2] = 180.0  # a flat channel: the output's is flat too
  render_net.set_colour_rows(model, paintings)
  assert render_net.has_colour_skip(model)
  photo = rng.uniform(0, 255, (1, 48, 64, 3)).astype(np.float32)  # a multiple of 16: no pad
  means = [p.reshape(-1, 3).mean(0) for p in paintings]
  spreads = [p.reshape(-1, 3).std(0) for p in paintings]
  for k in range(2):
    out = model([photo, np.eye(2, dtype=np.float32)[k:k + 1]]).numpy().reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), means[k], atol=0.05)
    np.testing.assert_allclose(out.std(0), spreads[k], atol=0.05)
  # A mix mixes the rows: halfway between the two means.
  mixed = model([photo, np.array([[0.5, 0.5]], np.float32)]).numpy().reshape(-1, 3)
  np.testing.assert_allclose(mixed.mean(0), (means[0] + means[1]) / 2, atol=0.05)
  # The layout is the photo's: each channel a rescaled copy of the photo's.
  out = model([photo, np.eye(2, dtype=np.float32)[:1]]).numpy()[0]
  for c in range(3):
    assert np.corrcoef(out[..., c].ravel(), photo[0, ..., c].ravel())[0, 1] > 0.999
  plain = build_render_net("inception", width=8, residual_blocks=1, output_activation="tanh")
  render_net.set_colour_rows(plain, paintings[:1])  # no skip: nothing to set
  assert not render_net.has_colour_skip(plain)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_colour_skip_network_round_trips_and_tiles_like_the_whole_image(tmp_path, rng):
  from PIL import Image
  from fastchi_tf import tiling
  model = build_render_net("inception", width=8, residual_blocks=1, output_activation="tanh",
                           colour_skip=True)
  render_net.set_colour_rows(model, [rng.uniform(0, 90, (20, 20, 3))])
  path = str(tmp_path / "skip.keras")
  model.save(path)
  loaded = keras.saving.load_model(path, safe_mode=True)
  image = np.asarray(Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).resize(
      (512, 512), Image.BILINEAR))
  x = image[None].astype(np.float32)
  whole = loaded(x, training=False).numpy()[0]
  np.testing.assert_allclose(whole, model(x, training=False)[0], atol=1e-3)
  # The skip's statistics are whole-image ones like the other norms': tiles agree.
  tiled = tiling.stylize_tiled(loaded, image, tile=128)
  assert np.abs(tiled - np.clip(np.round(whole), 0, 255)).mean() <= 2.0
