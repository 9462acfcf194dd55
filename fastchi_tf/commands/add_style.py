r"""Adds your own painting to the shipped styles, in about 15 minutes on 2 CPU cores.

  fastchi add-style my_painting.jpg                  # the style is named my_painting
  fastchi add-style scan.png --name harbour --minutes 10
  fastchi stylize --input photo.jpg --style harbour  # then, as any shipped style
  fastchi stylize --input photo.jpg --style starry_night,harbour

Only the new style's normalization scales and shifts train, with the loss the shipped
network was trained with, on the demo's photos (or --photos); the shipped styles' outputs
stay exactly as they were. The grown network goes into your collection (--collection;
default: the platform's user data folder + /styles), where fastchi stylize and fastchi video
find it, and --list_styles marks your styles. A progress line shows the time left, and a
preview picture (a photo in the new style) is rewritten about every minute.

Ctrl-C keeps what was trained so far (a kill, what was trained up to the last checkpoint): the
same command resumes it, from the run's copy of the painting if the painting has moved, and
the same command with --minutes set to the minutes trained adds the style as it is. A Ctrl-C
while the style is being added leaves your collection as it was or with the style, never
half-written. Exit status: 0 added, 1 the work failed or the collection is in use, 2 bad
input (nothing written), 130 interrupted.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf.jobs import add_style as add_style_job

flags.DEFINE_string("name", None, "The style's name, for --style (default: the painting's "
                    "file name without its extension).")
flags.DEFINE_float("minutes", 15.0, "Minutes of training in all (a resumed run trains what "
                   "is left).")
flags.DEFINE_string("collection", None, "Your style collection's folder (default: "
                    "$FASTCHI_COLLECTION_DIR, else the platform's user data folder + /styles).")
flags.DEFINE_string("photos", None, "A folder of content photos to train on (default: the "
                    "demo's photos, which the install has).")
cli.define_runtime_flags(device=False)

FLAGS = flags.FLAGS


def job_from_flags(painting: str) -> add_style_job.AddStyleJob:
  return add_style_job.AddStyleJob(painting=painting, name=FLAGS.name, minutes=FLAGS.minutes,
                                   collection=FLAGS.collection, photos=FLAGS.photos)


def main(argv):
  if len(argv) != 2:
    cli.usage_error("add-style takes one painting (an image file), got "
                    f"{len(argv) - 1}: fastchi add-style PAINTING [--name NAME]")
  job = job_from_flags(argv[1])
  add_style_job.check(job)  # before TensorFlow's start: bad input in a second
  try:
    cli.import_tensorflow_quietly()
  except KeyboardInterrupt:
    cli.interrupted("stopped before training began; nothing was written")
  result = add_style_job.run(job)
  minutes = add_style_job.format_minutes(result.minutes * 60)
  print(f"added {result.name} to {result.folder} ({minutes} minutes, "
        f"{result.steps} steps); try: fastchi stylize --input PHOTO --style {result.name}")


main.takes_arguments = True  # the painting (cli.run lets it through)


if __name__ == "__main__":
  cli.run(main)
