import pytest
import tensorflow as tf

from fastchi_tf import distribute


def test_strategies_from_names(monkeypatch):
  assert distribute.make_strategy("default").num_replicas_in_sync == 1
  mirrored = distribute.make_strategy("mirrored")  # no GPU: the logical CPUs of conftest
  assert mirrored.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU")) == 2
  assert distribute.is_chief(mirrored) and distribute.task_name(mirrored) == "chief"
  with pytest.raises(ValueError, match="unknown strategy 'ring'"):
    distribute.make_strategy("ring")
  with pytest.raises(ValueError, match="asks for GPUs this machine lacks"):
    distribute.make_strategy("mirrored", devices=("0", "1"))
  monkeypatch.setenv("TF_CONFIG", "")
  with pytest.raises(ValueError, match="needs the TF_CONFIG"):
    distribute.make_strategy("multi_worker")


def test_split_cpu_after_start_accepts_the_same_split_only():
  distribute.split_cpu(1)  # nothing to do
  distribute.split_cpu(2)  # conftest already made 2
  with pytest.raises(ValueError, match="already initialized"):
    distribute.split_cpu(3)
