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
"""

import contextlib
import glob
import json
import os
import shutil
import sys
import tempfile
import types
import time

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags
from fastchi_tf.light import image_io

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file. Default: "
                    "the shipped styles (fastchi_tf/shipped, run on LiteRT).")
flags.DEFINE_string("input", None, "Image file, folder or glob.")
flags.DEFINE_string("output", None, "Image file (single input) or folder; - for standard "
                    "output (PNG). Default: beside the input (NAME_stylized.EXT).")
flags.DEFINE_bool("json", False, "Print a JSON summary (outputs, failures, seconds) to "
                  "standard output; other messages go to standard error.")
flags.DEFINE_integer("max_size", None, "Downscale so the longer side is at most this.",
                     lower_bound=1)
flags.DEFINE_bool("preserve_color", False, "Keep the content's colours (luminance transfer).")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
flags.DEFINE_integer("tile", None, "Tile size for images too big for memory, e.g. 1024. "
                     "Default: 512 above 2048x2048 pixels (any model exported by this "
                     "version; older exports: .keras or an export folder); 0 never tiles.",
                     lower_bound=0)
flags.DEFINE_integer("batch_size", 4, "Images of the same size stylized per call (folders).",
                     lower_bound=1)
style_flags.define_style_flags()
cli.define_runtime_flags()

FLAGS = flags.FLAGS


SUFFIX = "_stylized"  # photo.jpg's result without --output: photo_stylized.jpg


def _inputs(pattern, image_formats):
  """(image files, whether there may be many, how many were left out as our own results): a
  folder's or a glob's images (other files and folders left out alike) but our default
  outputs, NAME_stylized.EXT (a later '*.jpg' stylized them again); or the one file named."""
  if os.path.isdir(pattern):
    found = [os.path.join(pattern, n) for n in sorted(os.listdir(pattern))]
  elif glob.has_magic(pattern) and not os.path.exists(pattern):
    found = sorted(glob.glob(pattern))
  else:
    return [pattern], False, 0
  images = [f for f in found if os.path.isfile(f)
            and os.path.splitext(f)[1].lower() in image_formats]
  kept = [f for f in images if not os.path.splitext(os.path.basename(f))[0].endswith(SUFFIX)]
  return kept, True, len(images) - len(kept)


def _check_distinct(files, outputs):
  """Two inputs of one name (a glob over folders) would write the same output."""
  seen = {}
  for src, dst in zip(files, outputs):
    if dst in seen:
      cli.usage_error(f"{seen[dst]} and {src} would both be written to {dst}; stylize "
                      "them in separate runs or give each folder its own --output")
    seen[dst] = src


def default_output(pattern, image_formats):
  """Where results go without --output: beside the input."""
  if pattern == "-":
    return "-"
  if os.path.isdir(pattern):
    return os.path.normpath(pattern) + SUFFIX
  if glob.has_magic(pattern) and not os.path.exists(pattern):
    return "stylized"
  stem, ext = os.path.splitext(pattern)
  return f"{stem}{SUFFIX}{ext if ext.lower() in image_formats else '.png'}"


def _list_styles():
  names = style_flags.model_style_names(FLAGS.model)
  if FLAGS.json:
    print(json.dumps({"model": FLAGS.model, "styles": list(names)}))
    return
  style_flags.print_styles(types.SimpleNamespace(path=FLAGS.model, style_names=names))


def _stdin_to_file(folder):
  """Standard input's image bytes as a file in `folder` (the library reads files)."""
  from PIL import Image
  import io
  data = sys.stdin.buffer.read()
  if not data:
    cli.usage_error("--input -: standard input is empty; pipe an image into it")
  from fastchi_tf import stylize
  try:
    kind = image_io.open_image(io.BytesIO(data)).format or "PNG"
  except (OSError, Image.DecompressionBombError):
    kind = "PNG"  # read_image names the problem
  # (cameras' JPEGs with a preview image inside are MPO to Pillow)
  ext = {"JPEG": ".jpg", "MPO": ".jpg"}.get(kind, "." + kind.lower())
  if ext not in image_io.IMAGE_FORMATS:
    cli.usage_error(f"--input -: standard input holds a {kind} image; give one of "
                    f"{', '.join(sorted(set(image_io.IMAGE_FORMATS.values())))}")
  path = os.path.join(folder, "stdin" + ext)
  with open(path, "wb") as f:
    f.write(data)
  return path


def main(argv):
  del argv
  if FLAGS.model is None:
    FLAGS.model = style_flags.shipped_model("tflite")
  if FLAGS.list_styles:
    _list_styles()
    return
  cli.require("input")
  if FLAGS.json and FLAGS.output == "-":
    cli.usage_error("--json and --output - both write to standard output; choose one")
  if (FLAGS.output or default_output(FLAGS.input, ())) == "-" and sys.stdout.isatty():
    cli.usage_error("standard output is a terminal: redirect it (> out.png) or give "
                    "--output")
  scratch = tempfile.mkdtemp(prefix="fastchi-stylize-")
  try:
    with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
      _stylize(scratch, held)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def _stylize(scratch, held):
  cli.check_tile(FLAGS.tile)
  if FLAGS.model.endswith(".tflite") and (cli.device() or "cpu") != "cpu":
    cli.usage_error(f"--device {cli.device()}: a .tflite model runs on the CPU (LiteRT); "
                    "give a .keras or SavedModel model to use a GPU")
  from fastchi_tf.light import io_utils
  from fastchi_tf.light import model_files
  from fastchi_tf import stylize
  from fastchi_tf import stylizers
  from fastchi_tf.progress import Progress

  start = time.perf_counter()
  output = FLAGS.output or default_output(FLAGS.input, image_io.IMAGE_FORMATS)
  to_stdout = output == "-"
  pattern = _stdin_to_file(scratch) if FLAGS.input == "-" else FLAGS.input
  if to_stdout:
    output = os.path.join(scratch, "stdout.png")
  files, many, skipped = _inputs(pattern, image_io.IMAGE_FORMATS)
  if many and to_stdout:
    cli.usage_error("--output - takes one image; give a file or folder for many")
  ours = (f"skipped {skipped} earlier result{'s' if skipped > 1 else ''} named "
          f"NAME{SUFFIX}.EXT (this tool's output for one image); name one as --input to "
          "stylize it again")
  if many and not files:
    cli.usage_error(f"no images found for --input {FLAGS.input} (images: "
                    f"{', '.join(image_io.IMAGE_FORMATS)})" + (f"; {ours}" if skipped else ""))
  if skipped:
    cli.warn(ours)
  if not many and not to_stdout and (os.path.isdir(output) or output.endswith(os.sep)):
    # a folder for one image: the image's name in it
    output = os.path.join(output, "stylized.png" if FLAGS.input == "-"
                          else os.path.basename(files[0]))
  created = []
  try:
    if many:
      outputs = [os.path.join(output, os.path.basename(f)) for f in files]
      _check_distinct(files, outputs)
    else:
      image_io.check_extension(files[0], "input")
      image_io.check_extension(output, "output")
      if not os.path.isfile(files[0]):
        image_io.read_image(files[0])  # names what is wrong: missing, a folder
      outputs = [output]
    io_utils.check_not_inputs(outputs, files + [FLAGS.model])
    created = io_utils.prepare_folder(output) if many else io_utils.prepare_output(output)
    if not to_stdout:  # (two jobs writing one output would both say "wrote")
      # Claimed at once: a failed job removes the folders it made, and only a claim's
      # holder may (a folder's claim lies outside it, so another job's folder looks empty).
      cli.claim_output(held, output, created)
    model_files.check(FLAGS.model, FLAGS.style)  # a photo as --model, no --style: at once
    if not FLAGS.model.endswith(".tflite") or FLAGS.mixed_precision:
      # Once every check that needs none is done. A .tflite model runs on LiteRT alone: the
      # light path never imports TensorFlow.
      cli.import_tensorflow_quietly()
    if FLAGS.mixed_precision:
      from fastchi_tf import precision
      precision.check_available("stylize.py")
    stylizer = stylizers.load_stylizer(FLAGS.model, FLAGS.mixed_precision, cli.threads())
    stylizer.set_style(FLAGS.style, FLAGS.strength)
  except ValueError as e:
    io_utils.remove_empty(created)
    cli.usage_error(_from_stdin(e, pattern))
  except KeyboardInterrupt:  # while the model loads
    io_utils.remove_empty(created)
    cli.interrupted("nothing was written")

  progress = Progress(len(files), label="image", unit="img") if many else None
  errors = []
  try:
    failed = stylize.stylize_files(
        stylizer, list(zip(files, outputs)), max_size=FLAGS.max_size,
        keep_color=FLAGS.preserve_color, tile=FLAGS.tile, batch_size=FLAGS.batch_size,
        on_done=progress.update if progress else None,
        on_skip=(lambda m: cli.warn(f"skipped: {m}")) if many else errors.append)
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    cli.interrupted("images written so far are complete; no partial file was left")
  seconds = round(time.perf_counter() - start, 3)
  if not many and failed:
    io_utils.remove_empty(created)
    if FLAGS.json:
      print(json.dumps({"model": FLAGS.model, "input": FLAGS.input,
                        "output": "-" if to_stdout else output,
                        "written": [], "failed": [FLAGS.input], "seconds": seconds,
                        "error": _from_stdin(errors[0], pattern)}))
    cli.fail(_from_stdin(errors[0], pattern))
  if to_stdout:
    with open(output, "rb") as f:
      data = f.read()
    try:
      io_utils.write_stdout(data)
    except io_utils.StdoutClosedError as e:  # (... | head -c 10)
      cli.fail(e)
  written = [o for f, o in zip(files, outputs) if f not in failed and not to_stdout]
  if FLAGS.json:
    print(json.dumps({"model": FLAGS.model, "input": FLAGS.input,
                      "output": "-" if to_stdout else output, "written": written,
                      "failed": failed, "seconds": seconds}))
  # The human summary goes to standard error whenever standard output carries data.
  say = (lambda m: print(m, file=sys.stderr)) if FLAGS.json or to_stdout else print
  if not many:
    say(f"wrote {'standard output' if to_stdout else output}")
    return
  say(f"wrote {len(files) - len(failed)} image(s) to {output}")
  if failed:
    cli.fail(f"{len(failed)} of {len(files)} images failed")


def _from_stdin(error, pattern):
  """An error's message, naming standard input rather than the file it was copied to."""
  text = str(error)
  return text.replace(pattern, "standard input") if FLAGS.input == "-" else text


if __name__ == "__main__":
  cli.run(main)
