"""The style flags the image and video commands share, and the shipped model as a default.

Here, above the library, because they name the shipped collection (fastchi_tf.shipped), which
the ground-floor cli must not know.
"""

from absl import flags

from fastchi_tf import cli
from fastchi_tf import shipped


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


def shipped_model(kind: str) -> str:
  """The shipped collection's file ("tflite" or "keras"); fails in one line if missing."""
  try:
    return shipped.path(kind)
  except shipped.MissingError as e:
    cli.fail(e)
