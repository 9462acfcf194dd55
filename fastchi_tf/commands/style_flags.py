"""The style flags the image and video commands share, and the shipped model as a default.

Here, above the library, because they name the shipped collection (fastchi_tf.shipped), which
the ground-floor cli must not know.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf import shipped
from fastchi_tf import stylizers
from fastchi_tf.light import model_files


def define_style_flags() -> None:
  """--style, --strength and --list_styles, which the image and video tools share."""
  flags.DEFINE_string("style", None, "For a multi-style model: a style's name or index, an "
                      "equal mix of names or indices such as starry_night,wave or 0,5, weights "
                      "such as starry_night:0.7,wave:0.3, or one weight per style in decimals "
                      "such as 0.5,0.5,0,0,0,0 (see --list_styles).")
  flags.DEFINE_float("strength", 1.0, "How much of the style: 0 returns the input, 1 the full "
                     "style; in between blends the two.", lower_bound=0.0, upper_bound=1.0)
  flags.DEFINE_bool("list_styles", False, "Print the model's styles (index and name) and exit.")


def print_styles(stylizer) -> None:
  """--list_styles: one "index name" line per style of a loaded Stylizer."""
  if not stylizer.style_names:
    print(f"{stylizer.path} has a single style (no --style needed)")
  for i, name in enumerate(stylizer.style_names):
    print(f"{i} {name}")


def model_style_names(model: str):
  """--list_styles' names of `model`: a .keras or .tflite file's read without TensorFlow, a
  SavedModel's by loading it; a model that is not one is a usage error."""
  try:
    names = model_files.style_names(model)
  except ValueError as e:  # a photo as --model: at once
    cli.usage_error(e)
  if names is None:  # a SavedModel: loading it tells
    cli.import_tensorflow_quietly()
    try:
      names = stylizers.load_stylizer(model, num_threads=cli.threads()).style_names
    except ValueError as e:
      cli.usage_error(e)
  return names


def shipped_model(kind: str) -> str:
  """The shipped collection's file ("tflite" or "keras"); fails in one line if missing."""
  try:
    return shipped.path(kind)
  except shipped.MissingError as e:
    cli.fail(e)
