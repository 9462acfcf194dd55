r"""Stylizes photos with an exported model.

  fastchi stylize --model export/saved_model --input photo.jpg --output out.png
  fastchi stylize --model export/model.keras --input 'photos/*.jpg' --output out/
  fastchi stylize --model export/model_float32.tflite --input in.png --output o.png
  fastchi stylize --model export/model.keras --input photo.jpg   # photo_stylized.jpg
  cat in.jpg | fastchi stylize --model m.tflite --input - --output - > out.png

A multi-style model takes --style NAME, an index, or a mix (--style starry_night:0.7,wave:0.3);
--list_styles prints its styles; --strength S in [0, 1] blends the result with the photo.
--tile N stylizes images too big for memory in N x N tiles with whole-image statistics.
Without --output, the result goes beside the input: photo_stylized.jpg for photo.jpg, a
folder photos_stylized/ for photos/, stylized/ for a glob; a folder or glob skips such
NAME_stylized.EXT results, and says how many. "-" reads standard input and
writes PNG to standard output. --json prints a summary of what was written to standard
output. Missing output folders are created. PNG and WebP outputs keep an input's transparency.
A .tflite model never imports TensorFlow (the light install, requirements-lite.txt, is enough).
--runtime auto (the default) runs an export's saved_model or model.keras, and the shipped
styles, on the TFLite file beside it where that is faster: on any CPU, unless a GPU or
--mixed_precision needs TensorFlow (fastchi info says which runs here).
"""

import json
import sys
import types

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import io_utils

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file. Default: "
                    "the shipped styles (fastchi_tf/shipped; on LiteRT unless --runtime "
                    "chooses TensorFlow).")
flags.DEFINE_string("input", None, "Image file, folder or glob.")
flags.DEFINE_string("output", None, "Image file (single input) or folder; - for standard "
                    "output (PNG). Default: beside the input (NAME_stylized.EXT).")
flags.DEFINE_bool("json", False, "Print a JSON summary (outputs, failures, seconds) to "
                  "standard output; other messages go to standard error.")
flags.DEFINE_integer("max_size", None, "Downscale so the longer side is at most this.",
                     lower_bound=1)
flags.DEFINE_bool("preserve_color", False, "Keep the content's colours (luminance transfer).")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
cli.define_tile_flag("Tile size for images too big for memory, e.g. 1024. Default: 512 "
                     "above 2048x2048 pixels (any model exported by this version; older "
                     "exports: .keras or an export folder); 0 never tiles.")
flags.DEFINE_integer("batch_size", 4, "Images of the same size stylized per call (folders).",
                     lower_bound=1)
style_flags.define_style_flags()
cli.define_runtime_flags()
cli.define_runtime_choice_flag()

FLAGS = flags.FLAGS


def _list_styles():
  names = style_flags.model_style_names(FLAGS.model)
  if FLAGS.json:
    print(json.dumps({"model": FLAGS.model, "styles": list(names)}))
    return
  style_flags.print_styles(types.SimpleNamespace(path=FLAGS.model, style_names=names))


def job_from_flags() -> stylize_job.StylizeJob:
  return stylize_job.StylizeJob(
      model=FLAGS.model, input=FLAGS.input, output=FLAGS.output, style=FLAGS.style,
      strength=FLAGS.strength, max_size=FLAGS.max_size, preserve_color=FLAGS.preserve_color,
      tile=FLAGS.tile, batch_size=FLAGS.batch_size, mixed_precision=FLAGS.mixed_precision,
      threads=cli.threads(), device=cli.device(), json=FLAGS.json, runtime=FLAGS.runtime)


def main(argv):
  del argv
  if FLAGS.model is None:
    FLAGS.model = style_flags.default_model("keras")  # (--runtime: its TFLite sibling)
  if FLAGS.list_styles:
    _list_styles()
    return
  cli.require("input")
  job = job_from_flags()
  stylize_job.check(job)
  if stylize_job.to_stdout(job) and sys.stdout.isatty():
    cli.usage_error("standard output is a terminal: redirect it (> out.png) or give "
                    "--output")
  result = stylize_job.run(job, read_stdin=sys.stdin.buffer.read)
  if (FLAGS["model"].present and job.runtime == "auto" and result.choice
      and result.choice.model != job.model):
    cli.warn(f"note: ran {result.choice.model} on {result.choice.kernels}, faster here "
             f"(--runtime tf runs {job.model})")
  report(result)


def report(result: stylize_job.StylizeResult) -> None:
  """The result on standard output and error; a failure's exit status."""
  if result.job.json:
    print(json.dumps(result.summary()))
  if result.error:
    cli.fail(result.error)
  if result.data is not None:
    try:
      io_utils.write_stdout(result.data)
    except io_utils.StdoutClosedError as e:  # (... | head -c 10)
      cli.fail(e)
  # The human summary goes to standard error whenever standard output carries data.
  piped = result.data is not None
  say = (lambda m: print(m, file=sys.stderr)) if result.job.json or piped else print
  if not result.many:
    say(f"wrote {'standard output' if piped else result.output}")
    return
  say(f"wrote {len(result.files) - len(result.failed)} image(s) to {result.output}")
  if result.failed:
    cli.fail(f"{len(result.failed)} of {len(result.files)} images failed")


if __name__ == "__main__":
  cli.run(main)
