"""fastchi_tf.jobs.info: `fastchi info RUN`'s work in-process (tests/test_commands.py runs
the command itself)."""

import re

import pytest

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf.jobs import info as info_job


def test_a_run_without_a_checkpoint_has_no_step_yet(tmp_path):
  (tmp_path / "config.json").write_text(config_lib.named("tiny", steps=7).to_json())
  found = info_job.run_info(str(tmp_path))
  assert (found["step"], found["steps"], found["settings_changes"]) == (None, 7, [])


@pytest.mark.parametrize("config_json,message", [
    (None, "not a training run (no config.json)"),
    ("{not json", "config.json is not a training run's settings"),
    ('{"render": {"no_such_setting": 1}}', "config.json is not a training run's settings")])
def test_what_is_not_a_run_is_a_usage_error(tmp_path, config_json, message):
  if config_json is not None:
    (tmp_path / "config.json").write_text(config_json)
  with pytest.raises(cli.UsageError, match=re.escape(message)):
    info_job.run_info(str(tmp_path))
  with pytest.raises(cli.UsageError, match="gone: not found"):
    info_job.run_info(str(tmp_path / "gone"))
