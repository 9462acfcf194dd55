r"""Trains a style's render network. Running the same command again resumes it.

  python tools/train.py --style_image style.jpg --train_data ~/coco/train2014 \
      --model_dir runs/mosaic --loss_net vgg19 --loss_weights imagenet

Offline (no download): --loss_net vgg16 --loss_weights hed. Two devices on a CPU-only
machine: --strategy mirrored --cpu_devices 2.

One run at a time per --model_dir (a second one is refused). Ctrl-C stops between steps,
saves a checkpoint there and exits with status 130. Resuming with settings that change what
the run learns (loss, data, style image content, sizes, optimizer, batch, seed) is refused
unless --allow_config_change; more --steps, other save intervals and devices are fine.
Exit status: 0 done, 1 training failed or the folder is in use, 2 bad flags or inputs.
"""

import math

from absl import flags

from fastchi_tf import cli
from fastchi_tf import config as config_lib

_D = config_lib.TrainConfig()


def _bounds(key):
  low, high = config_lib.RANGES[key]
  if high == config_lib.FINITE:  # any finite number: see _finite
    return dict(lower_bound=low)
  return dict(lower_bound=low, upper_bound=high)


def _finite(name):
  # absl's bounds let NaN through (every comparison with it is false).
  flags.register_validator(name, lambda v: v is None or math.isfinite(v),
                           message=f"--{name} must be a finite number")


flags.DEFINE_string("style_image", None, "Style image file.")
flags.DEFINE_string("train_data", None,
                    "Folder searched recursively for images, or tfds:NAME (e.g. tfds:coco/2014).")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data folder.")
flags.DEFINE_string("model_dir", None, "Run folder: checkpoints, summaries, config.json. "
                    "Not inside --train_data; one run at a time.")
flags.DEFINE_enum("network", _D.render.variant, list(config_lib.RENDER_VARIANTS),
                  "Render network.")
flags.DEFINE_integer("width", _D.render.width, "Base number of filters.",
                     **_bounds("render.width"))
flags.DEFINE_integer("shrink", _D.render.shrink, "k of the inception convolutions.",
                     **_bounds("render.shrink"))
flags.DEFINE_enum("upsample", _D.render.upsample, list(config_lib.UPSAMPLES), "Upsampling.")
flags.DEFINE_enum("loss_net", _D.loss.network, list(config_lib.LOSS_NETWORKS), "Loss network.")
flags.DEFINE_string("loss_weights", _D.loss.weights,
                    "imagenet, hed (offline VGG16), random (He et al. 2016), a .h5 path "
                    "(VGG) or a Darknet .weights path (tiny_yolo).")
flags.DEFINE_list("content_layers", None, "Content layers, e.g. relu4_2 (default: per net).")
flags.DEFINE_list("style_layers", None, "Style layers, e.g. relu1_1,relu2_1 (default: per net).")
flags.DEFINE_float("content_weight", _D.loss.content_weight, "alpha.",
                   **_bounds("loss.content_weight"))
flags.DEFINE_float("style_weight", _D.loss.style_weight, "beta.", **_bounds("loss.style_weight"))
flags.DEFINE_float("tv_weight", _D.loss.tv_weight, "gamma.", **_bounds("loss.tv_weight"))
flags.DEFINE_enum("loss_reduction", _D.loss.reduction, list(config_lib.REDUCTIONS),
                  "mean (FastChi's expectation) or sum (Johnson).")
flags.DEFINE_integer("image_size", _D.data.image_size, "Training crop size.",
                     **_bounds("data.image_size"))
flags.DEFINE_integer("style_size", None, "Longer side of the style image (default: as is).",
                     **_bounds("data.style_size"))
flags.DEFINE_integer("batch_size", _D.batch_size, "Global batch size.", **_bounds("batch_size"))
flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam learning rate (above 0).",
                   **_bounds("learning_rate"))
flags.DEFINE_integer("steps", _D.steps, "Total training steps.", **_bounds("steps"))
flags.DEFINE_integer("checkpoint_every", _D.checkpoint_every, "Steps between checkpoints.",
                     **_bounds("checkpoint_every"))
flags.DEFINE_integer("summary_every", _D.summary_every, "Steps between TensorBoard summaries.",
                     **_bounds("summary_every"))
flags.DEFINE_enum("strategy", _D.strategy, list(config_lib.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_list("devices", None, "GPU indices to mirror over, e.g. 0,1 (default: all).")
flags.DEFINE_integer("cpu_devices", _D.cpu_devices,
                     "Split the CPU into N logical devices (multi-device runs without GPUs).",
                     **_bounds("cpu_devices"))
flags.DEFINE_integer("seed", _D.seed, "Random seed.", **_bounds("seed"))
flags.DEFINE_bool("deterministic", _D.deterministic, "Deterministic ops (repeatable runs).")
flags.DEFINE_bool("mixed_precision", _D.mixed_precision,
                  "float16 compute, float32 variables and losses, loss scaling (GPUs only).")
flags.DEFINE_bool("allow_config_change", False,
                  "Resume even though settings that change what the run learns (loss, data, "
                  "style image content, sizes, optimizer, batch, seed) differ from the run's "
                  "config.json; the changes are listed. Architecture changes stay refused.")
for _name in ("content_weight", "style_weight", "tv_weight", "learning_rate"):
  _finite(_name)
flags.register_validator("learning_rate", lambda v: v > 0,
                         message="--learning_rate must be above 0")

FLAGS = flags.FLAGS


def config_from_flags():
  return config_lib.TrainConfig(
      model_dir=FLAGS.model_dir or "",
      render=config_lib.RenderConfig(FLAGS.network, FLAGS.width, FLAGS.shrink, FLAGS.upsample),
      loss=config_lib.LossConfig(
          network=FLAGS.loss_net, weights=FLAGS.loss_weights,
          content_layers=tuple(FLAGS.content_layers) if FLAGS.content_layers else None,
          style_layers=tuple(FLAGS.style_layers) if FLAGS.style_layers else None,
          content_weight=FLAGS.content_weight, style_weight=FLAGS.style_weight,
          tv_weight=FLAGS.tv_weight, reduction=FLAGS.loss_reduction, seed=FLAGS.seed),
      data=config_lib.DataConfig(
          train_data=FLAGS.train_data or "", tfds_data_dir=FLAGS.tfds_data_dir,
          image_size=FLAGS.image_size, style_image=FLAGS.style_image or "",
          style_size=FLAGS.style_size),
      batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate, steps=FLAGS.steps,
      checkpoint_every=FLAGS.checkpoint_every, summary_every=FLAGS.summary_every,
      strategy=FLAGS.strategy, devices=tuple(FLAGS.devices) if FLAGS.devices else None,
      cpu_devices=FLAGS.cpu_devices, seed=FLAGS.seed, deterministic=FLAGS.deterministic,
      mixed_precision=FLAGS.mixed_precision)


def main(argv):
  del argv  # cli.run refuses extra arguments
  try:
    _train()
  except KeyboardInterrupt:  # while TensorFlow was imported, before training
    cli.interrupted("stopped before training began; nothing was written")


def _train():
  cfg = config_from_flags()
  try:
    cfg.check()  # flags and paths, before TensorFlow starts
  except ValueError as e:
    cli.usage_error(e)
  cli.import_tensorflow_quietly()
  # pylint: disable=g-import-not-at-top (after TensorFlow is imported quietly)
  from fastchi_tf import distribute
  from fastchi_tf import precision
  from fastchi_tf import train_lib
  try:
    if cfg.mixed_precision:
      precision.check_available("train.py")
    distribute.split_cpu(cfg.cpu_devices)
    result = train_lib.train(cfg, allow_config_change=FLAGS.allow_config_change)
  except train_lib.Interrupted as e:
    cli.interrupted(e)
  except (train_lib.TrainingError, train_lib.InUseError) as e:
    cli.fail(e)
  except (ValueError, FileNotFoundError) as e:  # data.DataError is a ValueError
    cli.usage_error(e)
  except OSError as e:  # e.g. a full disk
    cli.fail(e)
  print(f"trained to step {result.step}: {cfg.model_dir}")
  if result.skipped_files:
    print(f"skipped {result.skipped_files} undecodable training images (see warnings)")


if __name__ == "__main__":
  cli.run(main)
