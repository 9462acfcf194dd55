import os

from PIL import Image

from fastchi_tf import demo
from fastchi_tf import video_io


def test_demo_writes_its_results_offline(tmp_path):
  paths = demo.run_demo(str(tmp_path), steps=2)
  for key in ("stylized", "preserved_color", "before_after", "loss_curve", "preview"):
    assert os.path.getsize(paths[key]) > 0
  content = Image.open(demo.skimage_data(demo.HELD_OUT_PHOTO))
  assert Image.open(paths["stylized"]).size == content.size
  assert Image.open(paths["before_after"]).size == (4 * content.size[0], content.size[1])
  clip = video_io.probe(paths["clip_stylized"])
  assert (clip.width, clip.height, clip.audio_codec) == (320, 180, "aac")
  assert len(list(video_io.read_frames(clip))) == demo.CLIP_FRAMES
  assert {"saved_model", "model.keras", "model_float32.tflite"} <= set(os.listdir(paths["export"]))
