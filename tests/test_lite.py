"""The LiteRT runner, on a .tflite model converted here (the light path's module)."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from fastchi_tf import build_render_net
from fastchi_tf import export
from fastchi_tf.light import lite
from fastchi_tf import render_net
from fixtures_models import small_exports  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def inception(small_exports):
  """An inception network of width 8 (fixtures_models.small_exports, converted once a
  session): its SavedModel and its TFLite model."""
  with open(small_exports.tflite, "rb") as f:
    return small_exports.saved_model, f.read()


@pytest.mark.parametrize("variant,upsample,blocks", [("inception", "nearest", False),
                                                     ("original", "transpose", True)])
@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_runner_resizes_for_each_shape_and_matches_the_saved_model(tmp_path, rng, request,
                                                                   variant, upsample, blocks):
  if (variant, upsample, blocks) == ("inception", "nearest", False):
    saved, content = request.getfixturevalue("inception")  # (of one network)
  else:
    model, content = build_render_net(variant, width=8, upsample=upsample,
                                      residual_blocks=1), None
    saved = str(tmp_path / "saved_model")
    export.export_saved_model(model, saved)
  if blocks:  # a copy whose narrow convolutions (quarter resolution too) run on blocks
    model = render_net.use_space_to_depth(model)
  runner = lite.TFLiteRunner(content or export.tflite_bytes(model))
  serve = tf.saved_model.load(saved).signatures["serving_default"]
  for shape in ((24, 40, 3), (33, 17, 3), (5, 3, 3), (24, 40, 3)):  # 5x3: padded past 8
    image = rng.integers(0, 256, shape, np.uint8)
    out = runner(image)
    reference = serve(images=tf.constant(image[None]))["stylized"].numpy()[0]
    assert out.shape == shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - reference).max() <= 1


def _allocated(content, shape):
  """LiteRT's Interpreter of `content` sized for images of `shape` (XNNPACK applied)."""
  interpreter = Interpreter(model_content=content)
  index = [d for d in interpreter.get_input_details() if len(d["shape"]) == 4][0]["index"]
  interpreter.resize_tensor_input(index, shape, strict=False)
  interpreter.allocate_tensors()
  return interpreter, index


def test_litert_knows_every_size_before_it_runs(inception):
  # A size computed at run time makes LiteRT allocate that tensor, and all downstream of
  # it, on its own and keep it: every activation in memory at once (export.lite_serving_fn).
  interpreter, _ = _allocated(inception[1], [1, 36, 52, 3])
  output = interpreter.get_output_details()[0]
  assert list(output["shape"]) == [1, 36, 52, 3]  # before any invoke
  ops = {op["op_name"] for op in interpreter._get_ops_details()}
  assert not ops & {"SHAPE", "GATHER", "RANGE"}, ops
  assert "SPACE_TO_DEPTH" in ops  # the 9x9 convolutions on 2x2 blocks


def test_xnnpack_runs_the_network_in_a_few_pieces(inception):
  # An op XNNPACK does not take splits the graph, and LiteRT runs it on its own kernels in
  # between: with MIRROR_PAD, TILE and the fused norm's RESHAPE the width-16 network ran in
  # 34 pieces and 1.6-1.8x slower (layers._reflect_slices).
  interpreter, _ = _allocated(inception[1], [1, 24, 40, 3])
  ops = [op["op_name"] for op in interpreter._get_ops_details()]
  assert not set(ops) & {"MIRROR_PAD", "TILE"}, set(ops)
  # the casts in and out, and the 9x9 convolutions' SPACE_TO_DEPTH, stay LiteRT's
  assert 1 <= ops.count("DELEGATE") <= 5, ops.count("DELEGATE")


def test_unknown_precisions_fail_before_any_work():
  model = build_render_net("inception", width=8, residual_blocks=1)
  for bad in ("float16", ["float32", "int8"]):  # a bare string is not a list of them
    with pytest.raises(ValueError, match="TFLite precisions"):
      export.tflite_models(model, bad)


def test_the_compiled_model_gives_the_interpreters_pixels(inception, rng):
  # The runner runs LiteRT's CompiledModel with transient indirection buffers (a memory
  # layout, not other arithmetic): the default Interpreter's output, at sizes that grow,
  # shrink and come back.
  runner = lite.TFLiteRunner(inception[1])
  for shape in ((36, 52, 3), (17, 9, 3), (36, 52, 3)):
    image = rng.integers(0, 256, shape, np.uint8)
    padded, (top, left) = lite.pad_for_network(image)
    interpreter, index = _allocated(inception[1], padded.shape)
    interpreter.set_tensor(index, padded)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    out = runner(image)
    assert out.shape == shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected[top:top + shape[0], left:left + shape[1]])


def test_frames_run_the_interpreter_and_photos_the_compiled_model(inception, rng):
  # A CompiledModel call holds the GIL: video's and the web page's worker threads
  # (transient=False) must run the Interpreter, which releases it, for the same pixels.
  photo, frames = lite.TFLiteRunner(inception[1]), lite.TFLiteRunner(inception[1],
                                                                      transient=False)
  assert photo._model is not None and frames._model is None  # pylint: disable=protected-access
  image = rng.integers(0, 256, (20, 28, 3), np.uint8)
  np.testing.assert_array_equal(photo(image), frames(image))
