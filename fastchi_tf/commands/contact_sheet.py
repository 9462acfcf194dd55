r"""Renders every style of a model on photos into a single captioned PNG.

  fastchi contact-sheet --model export/model.keras --input photo.jpg --output sheet.png
  fastchi contact-sheet --input photo.jpg --output sheet.png --mix starry_night,wave \
      --ramp starry_night
  fastchi contact-sheet --input a.jpg,b.jpg,c.jpg --output gallery.png

Rows: each photo and it in each style; with --mix A,B a row of mixes of the first photo from
A to B; with --ramp S a row of strengths 0 to 1 in style S. Without --model, the shipped
styles are used; --runtime chooses TFLite or TensorFlow as fastchi stylize does.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags
from fastchi_tf.jobs import contact_sheet as contact_sheet_job

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
cli.define_runtime_choice_flag()

FLAGS = flags.FLAGS


def main(argv):
  del argv
  cli.require("input", "output")
  model = FLAGS.model or style_flags.shipped_model("keras")  # (--runtime: its TFLite sibling)
  # (--device only matters, and is only read, for a model TensorFlow may run)
  device = None if model.endswith(".tflite") else cli.device()
  contact_sheet_job.run(contact_sheet_job.ContactSheetJob(
      model=model, inputs=FLAGS.input, output=FLAGS.output, mix=FLAGS.mix, ramp=FLAGS.ramp,
      steps=FLAGS.steps, max_size=FLAGS.max_size, threads=cli.threads(), device=device,
      runtime=FLAGS.runtime))
  print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
  cli.run(main)
