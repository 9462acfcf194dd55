"""Distribution strategies from a string, as in tensorflow/models' distribute_utils."""

import json
import os
from typing import Optional, Sequence

import tensorflow as tf


def split_cpu(num_devices: int) -> None:
  """Splits the CPU into `num_devices` logical devices; call before TensorFlow initializes.

  This lets multi-device code run (and be tested) on a machine without GPUs.
  """
  if num_devices <= 1:
    return
  cpu = tf.config.list_physical_devices("CPU")[0]
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
  except RuntimeError:
    # Already initialized: fine if the split is already what was asked for.
    if len(tf.config.list_logical_devices("CPU")) != num_devices:
      raise ValueError(f"cannot split the CPU into {num_devices} devices: TensorFlow is "
                       "already initialized") from None


def make_strategy(name: str = "default",
                  devices: Optional[Sequence[str]] = None) -> tf.distribute.Strategy:
  """Returns a tf.distribute.Strategy.

  Args:
    name: "default" (one device), "mirrored" (synchronous over local devices) or
      "multi_worker" (synchronous over the workers in TF_CONFIG).
    devices: for "mirrored", GPU indices such as ("0", "1"); None mirrors over all GPUs, or
      over the logical CPUs when there is no GPU.
  """
  if os.environ.get("TF_CONFIG") == "":
    # An empty TF_CONFIG (e.g. `export TF_CONFIG=`) means no cluster, but TensorFlow's
    # resolvers would try to parse it as JSON.
    del os.environ["TF_CONFIG"]
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if devices:
      wanted = [f"/gpu:{int(d)}" for d in devices]
      if len(gpus) < max(int(d) for d in devices) + 1:
        raise ValueError(f"--devices={','.join(devices)} asks for GPUs this machine lacks "
                         f"({len(gpus)} found)")
      return tf.distribute.MirroredStrategy(wanted)
    if gpus:
      return tf.distribute.MirroredStrategy(gpus)
    return tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")])
  if name == "multi_worker":
    if not os.environ.get("TF_CONFIG"):
      raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                       "(see BUILD.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"unknown strategy {name!r}; choose default, mirrored or multi_worker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes the run's checkpoints, summaries and config."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def task_name(strategy: tf.distribute.Strategy) -> str:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return "chief"
  return f"{resolver.task_type}_{resolver.task_id}"
