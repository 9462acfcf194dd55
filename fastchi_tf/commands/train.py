r"""Trains a style's render network. Running the same command again resumes it.

  fastchi train --style_image style.jpg --train_data ~/coco/train2014 \
      --model_dir runs/mosaic --loss_net vgg19 --loss_weights imagenet

Offline (no download): --loss_net vgg16 --loss_weights hed. Two devices on a CPU-only
machine: --strategy mirrored --cpu_devices 2.

One run at a time per --model_dir (a second one is refused). Ctrl-C stops between steps,
saves a checkpoint there and exits with status 130. Resuming with settings that change what
the run learns (loss, data, style image content, sizes, optimizer, batch, seed) is refused
unless --allow_config_change; more --steps, other save intervals and devices are fine. Each
allowed change is kept in the run's config_history.jsonl with the step it took effect from
(fastchi info RUN shows them), and the loss-jump guard (--max_loss_jump) goes on judging
against the losses the checkpoint recorded, weighted as the run now weighs them.
Exit status: 0 done, 1 training failed or the folder is in use, 2 bad flags or inputs.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import train_flags
from fastchi_tf.jobs import train as train_job

train_flags.define_flags()  # one per setting of config.TrainConfig
flags.adopt_module_key_flags(train_flags)  # listed by --help
cli.define_runtime_flags(device=False)  # --devices chooses GPUs
_ALLOW_CHANGE = flags.DEFINE_bool(
    "allow_config_change", False,
    "Resume even though settings that change what the run learns (loss, data, style image "
    "content, sizes, optimizer, batch, seed) differ from the run's config.json; the changes "
    "are listed, and kept with their step in the run's config_history.jsonl (fastchi info "
    "RUN). Architecture changes stay refused.")


def main(argv):
  del argv  # cli.run refuses extra arguments
  cfg = train_flags.from_flags()
  result = train_job.run(train_job.TrainJob(cfg, allow_config_change=_ALLOW_CHANGE.value))
  print(f"trained to step {result.step}: {cfg.model_dir}")  # (skipped images: train's line)


if __name__ == "__main__":
  cli.run(main)
