"""`fastchi train`'s work: check the settings, start TensorFlow, split the CPU if asked, and
train (fastchi_tf.train_lib does the training).

`run(TrainJob(cfg))` returns train_lib's result. Bad settings or inputs raise cli.UsageError
(before TensorFlow starts when the flags alone show it), a failed run or a folder in use
cli.Failed, and Ctrl-C cli.Interrupted after the checkpoint at the step it stopped on.
"""

import dataclasses
import os

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import run_folder


@dataclasses.dataclass
class TrainJob:
  """One run of `fastchi train`; the fields are its flags'."""
  cfg: config_lib.TrainConfig
  allow_config_change: bool = False  # resume although what the run learns changed


def run(job: TrainJob):
  """Trains job.cfg to its steps (resuming its model_dir); train_lib.train's result."""
  cfg = job.cfg
  try:
    cfg.check()  # flags and paths, before TensorFlow starts
  except ValueError as e:
    raise cli.UsageError(str(e)) from None
  try:
    cli.import_tensorflow_quietly()
    # pylint: disable=g-import-not-at-top (after TensorFlow is imported quietly)
    import tensorflow as tf
    from fastchi_tf import distribute
    from fastchi_tf import precision
    from fastchi_tf import train_lib
  except KeyboardInterrupt:
    raise cli.Interrupted("stopped before training began; nothing was written") from None
  try:
    if cfg.mixed_precision:
      precision.check_available("train.py")
    distribute.split_cpu(cfg.cpu_devices)
    return train_lib.train(cfg, allow_config_change=job.allow_config_change)
  except train_lib.Interrupted as e:
    raise cli.Interrupted(str(e)) from None
  except KeyboardInterrupt:  # before the training loop's own handler took over
    raise cli.Interrupted("stopped before training began; nothing was written") from None
  except (train_lib.TrainingError, run_folder.InUseError) as e:
    raise cli.Failed(str(e)) from None
  except (ValueError, FileNotFoundError) as e:  # data.DataError is a ValueError
    raise cli.UsageError(str(e)) from None
  except OSError as e:  # e.g. a full disk
    raise cli.Failed(str(e)) from None
  except tf.errors.OpError as e:  # e.g. a checkpoint on a full disk
    latest = tf.train.latest_checkpoint(cfg.model_dir)
    kept = f"{os.path.basename(latest)} is kept" if latest else "no checkpoint was saved"
    raise cli.Failed(f"{cfg.model_dir}: {_first_line(e.message)}; {kept}") from None


def _first_line(text):
  return (text.strip() or "TensorFlow error").splitlines()[0]
