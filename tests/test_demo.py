import os

import pytest
from PIL import Image

from fastchi_tf import samples
from fastchi_tf import video_io
from tool_runner import run_tool


@pytest.mark.slow
def test_demo_writes_its_results_offline(tmp_path):
  out = tmp_path / "demo"
  # 4 frames: one batch (each frame of the shipped network at 320x180 costs ~0.5 s here; the
  # batches of longer clips are test_video's)
  result = run_tool("demo.py", "--out_dir", out, "--steps", "2", "--clip_frames", "4",
                    timeout=600)
  assert result.returncode == 0, result.stderr
  assert "preview (updated as it trains)" in result.stdout  # the first picture comes early
  # The shipped styles come first: a contact sheet and the clip in starry_night.
  assert result.stdout.index("shipped styles") < result.stdout.index("training")
  names = ("shipped_styles.png", "preview.png", "coffee_stylized.png",
           "coffee_stylized_color.png", "before_after.png", "loss_curve.png")
  for name in names:
    assert os.path.getsize(out / name) > 0, name
  content = Image.open(samples.skimage_path(samples.HELD_OUT_PHOTO))
  assert Image.open(out / "coffee_stylized.png").size == content.size
  assert Image.open(out / "before_after.png").size == (4 * content.size[0], content.size[1])
  for name in ("clip_stylized.mp4", "clip_starry_night.mp4"):
    clip = video_io.probe(str(out / name))
    assert (clip.width, clip.height, clip.audio_codec) == (320, 180, "aac"), name
    assert len(list(video_io.read_frames(clip))) == 4, name
  assert {"saved_model", "model.keras", "model_float32.tflite"} <= set(
      os.listdir(out / "export"))
