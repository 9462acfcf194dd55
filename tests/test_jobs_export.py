"""`fastchi export`'s job in-process: what is not a run, and exports that would replace one.
(Exports themselves are tests/test_export.py's, from a trained run.)"""

import re

import pytest

from fastchi_tf import cli
from fastchi_tf.jobs import export as export_job

Job = export_job.ExportJob


def test_paths_that_are_not_a_training_run_are_usage_errors(tmp_path):
  (tmp_path / "file").write_text("")
  for model_dir, message in ((tmp_path / "missing", "not found"),
                             (tmp_path / "file", "is not a folder"),
                             (tmp_path, "is not a training run (no config.json)")):
    with pytest.raises(cli.UsageError, match=re.escape(message)):
      export_job.run(Job(model_dir=str(model_dir), export_dir=str(tmp_path / "out")))
  assert not (tmp_path / "out").exists()


def test_an_export_into_the_run_itself_is_refused(tmp_path):
  (tmp_path / "config.json").write_text("{}")
  with pytest.raises(cli.UsageError, match="replace"):
    export_job.run(Job(model_dir=str(tmp_path), export_dir=str(tmp_path)))
  assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
