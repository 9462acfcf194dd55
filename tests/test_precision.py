import keras
import numpy as np
import pytest
import tensorflow as tf

from fastchi_tf import build_render_net
from fastchi_tf import precision


def test_policy_is_restored_and_the_copy_computes_in_float16(rng):
  before = keras.mixed_precision.global_policy().name
  with precision.dtype_policy(True):
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
  assert keras.mixed_precision.global_policy().name == before
  model = build_render_net("inception", width=8, residual_blocks=1)
  half = precision.mixed_copy(model)
  assert half.get_layer("c1_conv").compute_dtype == "float16"
  assert half.get_layer("c1_conv").variable_dtype == "float32"
  x = rng.uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)
  assert np.abs(np.asarray(half(x), np.float32) - model(x)).mean() < 1.0


def test_mixed_precision_is_refused_without_a_gpu():
  if tf.config.list_physical_devices("GPU"):
    pytest.skip("this check is for machines without a GPU")
  with pytest.raises(ValueError, match="needs a GPU"):
    precision.check_available("tool.py")
