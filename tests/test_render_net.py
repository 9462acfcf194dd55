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
