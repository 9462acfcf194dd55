"""The style flags the image and video commands share, and the default model: the shipped
one, or the user's collection (fastchi add-style) for a style of theirs.

Here, above the library, because they name the shipped collection (fastchi_tf.shipped), which
the ground-floor cli must not know.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf import shipped
from fastchi_tf import stylizers
from fastchi_tf.light import collection as collection_lib
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
  flags.DEFINE_string("collection", None, "Your style collection (fastchi add-style), used "
                      "without --model when --style names one of its styles. Default: "
                      f"${collection_lib.ENV}, else the platform's user data folder + /styles.")


def print_styles(stylizer) -> None:
  """--list_styles: one "index name" line per style of a loaded Stylizer."""
  if not stylizer.style_names:
    print(f"{stylizer.path} has a single style (no --style needed)")
  found = collection_lib.beside(stylizer.path)  # a collection's network: mark the user's
  for i, name in enumerate(stylizer.style_names):
    added = found and found.find(name)
    print(f"{i} {name}" + (f"  (yours: added from {added.painting})" if added else ""))


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


def default_model(kind: str) -> str:
  """The model without --model: the shipped one, or the user's collection's when --style
  needs one of its styles or --list_styles is asked (collection.model_for); its note on
  stderr."""
  try:
    path, note = collection_lib.model_for(
        flags.FLAGS.style, shipped_model(kind), shipped_model("keras"),
        flags.FLAGS.collection, flags.FLAGS.list_styles, kind)
  except collection_lib.CollectionError as e:
    cli.usage_error(e)
  if note:
    cli.warn(note)
  return path


def shipped_model(kind: str) -> str:
  """The shipped collection's file ("tflite" or "keras"); fails in one line if missing."""
  try:
    return shipped.path(kind)
  except shipped.MissingError as e:
    cli.fail(e)
