r"""Renders every style of a model on photos into a single captioned PNG.

  fastchi contact-sheet --model export/model.keras --input photo.jpg --output sheet.png
  fastchi contact-sheet --input photo.jpg --output sheet.png --mix starry_night,wave \
      --ramp starry_night
  fastchi contact-sheet --input a.jpg,b.jpg,c.jpg --output gallery.png

Rows: each photo and it in each style; with --mix A,B a row of mixes of the first photo from
A to B; with --ramp S a row of strengths 0 to 1 in style S. Without --model, the shipped
styles are used.
"""

import contextlib

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags
from fastchi_tf.light import image_io

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file (default: "
                    "the shipped styles).")
flags.DEFINE_list("input", None, "Photos to stylize (a comma list: one row each).")
flags.DEFINE_string("output", None, "Contact sheet to write (.png).")
flags.DEFINE_list("mix", None, "Two styles (names or indices): add a row mixing them.")
flags.DEFINE_string("ramp", None, "A style: add a row of strengths from 0 to 1 in it.")
flags.DEFINE_integer("steps", 5, "Images in the mix and strength rows.", lower_bound=2,
                     upper_bound=11)
flags.DEFINE_integer("max_size", 512, "Downscale the photo so its longer side is at most "
                     "this.", lower_bound=16)

cli.define_runtime_flags()

FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require("input", "output")
  with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
    _contact_sheet(held)


def _contact_sheet(held):
  import os
  from fastchi_tf.light import io_utils
  from fastchi_tf import stylize
  from fastchi_tf import stylizers
  model = FLAGS.model or style_flags.shipped_model("tflite")
  from fastchi_tf import plots  # (matplotlib: the light install has none; said up front)
  from fastchi_tf.light import model_files
  created = []
  try:
    model_files.kind(model)  # a photo as --model: before TensorFlow's start
    if not FLAGS.output.lower().endswith(".png"):
      raise ValueError(f"--output {FLAGS.output}: a contact sheet is written as .png")
    images = [stylize.downscale(image_io.read_image(p), FLAGS.max_size) for p in FLAGS.input]
    io_utils.check_not_inputs([FLAGS.output], [*FLAGS.input, model])
    created = io_utils.prepare_output(FLAGS.output)  # an unwritable place: before the work
    cli.claim_output(held, FLAGS.output, created)
    if not model.endswith(".tflite"):
      cli.import_tensorflow_quietly()
    stylizer = stylizers.load_stylizer(model, num_threads=cli.threads())
    from fastchi_tf import sheets
    rows = sheets.contact_sheet(stylizer, images[0], FLAGS.mix, FLAGS.ramp, FLAGS.steps,
                                more=images[1:])
  except ValueError as e:
    io_utils.remove_empty(created)
    cli.usage_error(e)
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    cli.interrupted(f"{FLAGS.output} was not written")
  try:
    plots.labelled_rows(rows, FLAGS.output, title=os.path.basename(model))
  except OSError as e:  # a full disk, say
    io_utils.remove_empty(created)
    cli.fail(f"cannot write {FLAGS.output}: {e.strerror or e}")
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    cli.interrupted(f"{FLAGS.output} was not written")
  print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
  cli.run(main)
