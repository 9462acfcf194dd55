"""fastchi_tf.jobs.demo: `fastchi demo`'s work in-process (tests/test_demo.py runs the whole
demo as a tool)."""

import os

import pytest

from fastchi_tf import cli
from fastchi_tf.jobs import demo as demo_job


def test_a_missing_shipped_collection_fails_in_one_line(tmp_path, monkeypatch):
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(shipped, "FOLDER", str(tmp_path / "nowhere"))
  with pytest.raises(cli.Failed, match="the shipped style collection is missing"):
    demo_job.run(demo_job.DemoJob(out_dir=str(tmp_path / "demo"), steps=1, clip_frames=2))
  assert not os.path.exists(tmp_path / "demo" / "run")  # no training began


def test_the_demo_clip_is_a_pan_with_audio(tmp_path):
  from fastchi_tf import video_io  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / "clip.mp4")
  demo_job.make_demo_clip(path, size=(64, 36), frames=4)
  clip = video_io.probe(path)
  assert (clip.width, clip.height, clip.audio_codec) == (64, 36, "aac")
  frames = list(video_io.read_frames(clip))
  assert len(frames) == 4 and abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1
