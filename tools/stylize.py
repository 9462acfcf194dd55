r"""Stylizes photos with an exported model.

  python tools/stylize.py --model export/saved_model --input photo.jpg --output out.png
  python tools/stylize.py --model export/model.keras --input 'photos/*.jpg' --output out/
  python tools/stylize.py --model export/model_float32.tflite --input in.png --output o.png

--tile N stylizes images too big for memory in N x N tiles with whole-image statistics.
"""

import glob
import os
import sys

from absl import app
from absl import flags

from fastchi_tf import precision
from fastchi_tf import stylize
from fastchi_tf.progress import Progress

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file.")
flags.DEFINE_string("input", None, "Image file, folder or glob.")
flags.DEFINE_string("output", None, "Image file (single input) or folder.")
flags.DEFINE_integer("max_size", None, "Downscale so the longer side is at most this.")
flags.DEFINE_bool("preserve_color", False, "Keep the content's colours (luminance transfer).")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
flags.DEFINE_integer("tile", None, "Tile size for images too big for memory, e.g. 1024. "
                     "Default: 512 above 2048x2048 pixels when the model is a .keras file "
                     "or an export folder; 0 never tiles.")
flags.DEFINE_integer("batch_size", 4, "Images of the same size stylized per call (folders).")

FLAGS = flags.FLAGS


def _inputs(pattern):
  if os.path.isdir(pattern):
    files = [os.path.join(pattern, n) for n in sorted(os.listdir(pattern))
             if os.path.splitext(n)[1].lower() in stylize.IMAGE_FORMATS]
    return files, True
  if glob.has_magic(pattern):
    return sorted(glob.glob(pattern)), True
  return [pattern], False


def main(argv):
  if len(argv) > 1:
    sys.exit(f"stylize.py: error: unexpected arguments {argv[1:]}")
  for name in ("model", "input", "output"):
    if not getattr(FLAGS, name):
      sys.exit(f"stylize.py: error: --{name} is required")
  if FLAGS.tile is not None and FLAGS.tile != 0 and FLAGS.tile < 64:
    sys.exit(f"stylize.py: error: --tile must be 0 (never) or at least 64, got {FLAGS.tile}")
  files, many = _inputs(FLAGS.input)
  if many and not files:
    sys.exit(f"stylize.py: error: no images found for --input {FLAGS.input}")
  try:
    if many:
      if os.path.isfile(FLAGS.output):
        raise stylize.StylizeError(f"--output {FLAGS.output} must be a folder for many inputs")
      os.makedirs(FLAGS.output, exist_ok=True)
      outputs = [os.path.join(FLAGS.output, os.path.basename(f)) for f in files]
    else:
      stylize.check_extension(files[0], "input")
      outputs = [FLAGS.output]
      stylize.check_extension(FLAGS.output, "output")
    for src, dst in zip(files, outputs):
      if os.path.abspath(src) == os.path.abspath(dst):
        raise stylize.StylizeError(f"output {dst} would overwrite its input")
    if FLAGS.mixed_precision:
      precision.check_available("stylize.py")
    stylizer = stylize.Stylizer(FLAGS.model, FLAGS.mixed_precision)
  except (stylize.StylizeError, ValueError) as e:
    sys.exit(f"stylize.py: error: {e}")

  if not many:
    try:
      image = stylize.read_image(files[0])
      out = stylize.stylize_image(stylizer, image, FLAGS.max_size, FLAGS.preserve_color,
                                  FLAGS.tile)
      stylize.write_image(outputs[0], out)
    except stylize.StylizeError as e:
      sys.exit(f"stylize.py: error: {e}")
    print(f"wrote {FLAGS.output}")
    return

  failed = []
  progress = Progress(len(files), label="image", unit="img")
  batch = []  # (dst, image) of one size, stylized together

  def flush():
    try:
      outs = stylize.stylize_batch(stylizer, [image for _, image in batch],
                                   FLAGS.preserve_color, FLAGS.tile)
      for (dst, _), out in zip(batch, outs):
        stylize.write_image(dst, out)
    except stylize.StylizeError as e:
      print(f"stylize.py: skipped: {e}", file=sys.stderr)
      failed.extend(dst for dst, _ in batch)
    batch.clear()

  for i, (src, dst) in enumerate(zip(files, outputs)):
    try:
      stylize.check_extension(src, "input")
      image = stylize.downscale(stylize.read_image(src), FLAGS.max_size)
      if FLAGS.tile:
        stylize.write_image(dst, stylize.stylize_image(stylizer, image, None,
                                                       FLAGS.preserve_color, FLAGS.tile))
      else:
        if batch and batch[0][1].shape != image.shape:
          flush()
        batch.append((dst, image))
        if len(batch) == FLAGS.batch_size:
          flush()
    except stylize.StylizeError as e:
      print(f"stylize.py: skipped: {e}", file=sys.stderr)
      failed.append(src)
    progress.update(i + 1 - len(batch))
  if batch:
    flush()
    progress.update(len(files))
  done = len(files) - len(failed)
  print(f"wrote {done} image(s) to {FLAGS.output}")
  if failed:
    sys.exit(f"stylize.py: error: {len(failed)} of {len(files)} images failed")


if __name__ == "__main__":
  app.run(main)
