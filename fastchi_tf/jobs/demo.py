"""`fastchi demo`'s work: the shipped styles on a photo and a generated clip, then a style
trained from scratch offline, exported, and run on the photo and clip again.

`run(DemoJob(out_dir))` returns {name: path} of what it wrote. A missing shipped collection
raises cli.Failed; Ctrl-C raises cli.Interrupted (the same job resumes its training).
"""

import dataclasses
import os

from fastchi_tf import cli

cli.import_tensorflow_quietly()  # before the modules below import it

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from fastchi_tf import config as config_lib  # noqa: E402
from fastchi_tf import export  # noqa: E402
from fastchi_tf.light import image_io  # noqa: E402
from fastchi_tf.light import io_utils  # noqa: E402
from fastchi_tf import plots  # noqa: E402
from fastchi_tf import run_folder  # noqa: E402
from fastchi_tf import samples  # noqa: E402
from fastchi_tf import sheets  # noqa: E402
from fastchi_tf import shipped  # noqa: E402
from fastchi_tf import stylize  # noqa: E402
from fastchi_tf import stylizers  # noqa: E402
from fastchi_tf import train_lib  # noqa: E402
from fastchi_tf import video  # noqa: E402

CLIP_FRAMES, CLIP_FPS = 60, "30000/1001"  # 2 s at NTSC's 29.97 fps
SHIPPED_STYLE = "starry_night"  # the shipped style the demo's clip is shown in
# The shipped clip is stabilized as README suggests: Starry Night flickers most of the six
# (experiments/results/stabilized_video).
DEMO_STABILIZE = 0.7


@dataclasses.dataclass
class DemoJob:
  """One run of `fastchi demo`; the fields are its flags'."""
  out_dir: str = "demo_out"
  steps: int = 300  # training steps
  clip_frames: int = CLIP_FRAMES


def run(job: DemoJob) -> dict:
  """Runs the demo; {name: path} of what it wrote."""
  try:
    return run_demo(job.out_dir, job.steps, job.clip_frames)
  except shipped.MissingError as e:
    raise cli.Failed(str(e)) from None
  except KeyboardInterrupt:
    raise cli.Interrupted(f"the same command resumes training in {job.out_dir}/run") from None


def demo_config(out_dir, steps=300):
  """config.named("demo") (tuned on these photos) writing under `out_dir`."""
  return config_lib.named("demo", model_dir=os.path.join(out_dir, "run"), steps=steps,
                          data=dict(train_data=os.path.join(out_dir, "train_photos")))


def run_shipped(out_dir, clip_frames=CLIP_FRAMES):
  """The shipped styles: a contact sheet of the held-out photo and the clip in one style."""
  os.makedirs(out_dir, exist_ok=True)
  paths = {"sheet": os.path.join(out_dir, "shipped_styles.png"),
           "clip": os.path.join(out_dir, "clip.mp4"),
           "clip_shipped": os.path.join(out_dir, f"clip_{SHIPPED_STYLE}.mp4")}
  content = image_io.read_image(samples.skimage_path(samples.HELD_OUT_PHOTO))
  lite = shipped.load("tflite")
  print(f"[1/6] the shipped styles ({', '.join(lite.style_names)}) on "
        f"{samples.HELD_OUT_PHOTO}")
  rows = sheets.contact_sheet(lite, content, mix=(SHIPPED_STYLE, "wave"), ramp=SHIPPED_STYLE)
  plots.labelled_rows(rows, paths["sheet"], title="shipped styles")
  print(f"      contact sheet: {paths['sheet']}")
  print(f"[2/6] a generated {clip_frames}-frame clip with a 440 Hz tone, in {SHIPPED_STYLE}, "
        f"stabilized (fastchi video --stabilize {DEMO_STABILIZE})")
  make_demo_clip(paths["clip"], frames=clip_frames)
  keras_stylizer = shipped.load("keras").set_style(SHIPPED_STYLE)
  video.stylize_video(paths["clip"], paths["clip_shipped"],
                      video.frame_function(keras_stylizer), video.video_devices(),
                      stabilize=DEMO_STABILIZE)
  return paths


def run_demo(out_dir, steps=300, clip_frames=CLIP_FRAMES):
  """Returns {name: path} of what it wrote."""
  paths = run_shipped(out_dir, clip_frames)
  cfg = demo_config(out_dir, steps)
  samples.write_train_photos(cfg.data.train_data)
  print(f"[3/6] training the inception network for {steps} steps on "
        f"{len(samples.TRAIN_PHOTOS)} photos (style: {samples.STYLE_IMAGE})")
  preview = os.path.join(out_dir, "preview.png")
  train_lib.train(cfg, on_summary=preview_writer(preview, cfg.data.image_size))
  print("[4/6] exporting SavedModel, .keras and TFLite")
  export_dir = os.path.join(out_dir, "export")
  diffs = export.export_all(cfg.model_dir, export_dir, tflite=True)
  print(f"      TFLite float32 vs SavedModel: max {diffs['float32']} uint8 level(s)")
  print(f"[5/6] stylizing the held-out photo {samples.HELD_OUT_PHOTO}")
  content = image_io.read_image(samples.skimage_path(samples.HELD_OUT_PHOTO))
  stylizer = stylizers.load_stylizer(os.path.join(export_dir, export.SAVED_MODEL))
  out = stylize.stylize_image(stylizer, content)
  kept = stylize.stylize_image(stylizer, content, keep_color=True)
  paths.update({
      "stylized": os.path.join(out_dir, "coffee_stylized.png"),
      "preserved_color": os.path.join(out_dir, "coffee_stylized_color.png"),
      "before_after": os.path.join(out_dir, "before_after.png"),
      "loss_curve": os.path.join(out_dir, "loss_curve.png"),
      "preview": preview,
      "export": export_dir,
      "clip_stylized": os.path.join(out_dir, "clip_stylized.mp4"),
  })
  image_io.write_image(paths["stylized"], out)
  image_io.write_image(paths["preserved_color"], kept)
  style = np.asarray(Image.open(samples.skimage_path(samples.STYLE_IMAGE)).convert("RGB").resize(
      (content.shape[1], content.shape[0])))
  image_io.write_image(paths["before_after"], np.concatenate([content, style, out, kept], 1))
  plots.plot_loss_curves(plots.read_loss_log(os.path.join(cfg.model_dir, run_folder.LOSS_LOG)),
                         paths["loss_curve"], title="Demo training loss")
  print("[6/6] stylizing the clip with it")
  video.stylize_video(paths["clip"], paths["clip_stylized"], video.frame_function(stylizer),
                      video.video_devices())
  return paths


def preview_writer(path, size):
  """An on_summary hook: the held-out photo stylized by the network as it trains, so the
  first picture appears within seconds instead of at the end."""
  photo = Image.open(samples.skimage_path(samples.HELD_OUT_PHOTO)).convert("RGB")
  photo.thumbnail((2 * size, 2 * size))
  content = np.asarray(photo)

  def write(step, model):
    out = model(content[None].astype(np.float32), training=False)[0].numpy()
    stylized = np.clip(np.round(out), 0, 255).astype(np.uint8)
    image_io.write_image(path, np.concatenate([content, stylized], axis=1))
    if step == 0:
      print(f"      preview (updated as it trains): {path}")
  return write


def make_demo_clip(path, size=(320, 180), frames=CLIP_FRAMES):
  """A pan over a scikit-image photo (2 s by default), with audio: the demo needs no video
  download."""
  photo = np.asarray(Image.open(samples.skimage_path(samples.CLIP_PHOTO)).convert("RGB"))
  seconds = frames * 1001 / 30000
  frames = samples.pan_frames(photo, size[0], size[1], frames)
  with io_utils.atomic_path(path) as tmp:
    samples.make_clip(tmp, frames, CLIP_FPS, audio_seconds=seconds)
