"""fastchi_tf.jobs.train: `fastchi train`'s work in-process, each outcome as the exception
that cli.run turns into its exit status."""

import os

import pytest

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import run_folder
from fastchi_tf.jobs import train as train_job


def _job(tmp_path, photo_folder, style_path, **changes):
  return train_job.TrainJob(config_lib.named(
      "tiny", model_dir=str(tmp_path / "run"),
      data=dict(train_data=photo_folder, style_image=style_path), **changes))


def test_bad_settings_are_a_usage_error_and_write_nothing(tmp_path, photo_folder, style_path):
  job = _job(tmp_path, photo_folder, str(tmp_path / "gone.png"))
  with pytest.raises(cli.UsageError, match="gone.png"):
    train_job.run(job)
  assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow  # two short trainings
def test_a_run_trains_and_a_changed_resume_is_refused_unless_allowed(tmp_path, photo_folder,
                                                                    style_path):
  job = _job(tmp_path, photo_folder, style_path, steps=1, checkpoint_every=1)
  assert train_job.run(job).step == 1
  job.cfg = config_lib.replace(job.cfg, steps=2, learning_rate=job.cfg.learning_rate * 2)
  with pytest.raises(cli.UsageError, match="learning_rate"):
    train_job.run(job)
  job.allow_config_change = True
  assert train_job.run(job).step == 2


def test_a_folder_in_use_fails(tmp_path, photo_folder, style_path, monkeypatch):
  job = _job(tmp_path, photo_folder, style_path, steps=1)

  def in_use(*unused_args, **unused_kwargs):
    raise run_folder.InUseError(f"{job.cfg.model_dir} is in use by another run")
  from fastchi_tf import train_lib  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(train_lib, "train", in_use)
  with pytest.raises(cli.Failed, match="in use by another run"):
    train_job.run(job)
