"""Contact sheets: a model's styles, a mix between two of them, and a strength ramp on one
photo, as captioned rows (drawn by plots.labelled_rows; tools/contact_sheet.py)."""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from fastchi_tf import stylize
from fastchi_tf import stylizers

Row = List[Tuple[np.ndarray, str]]


def _render(stylizer, image, style, strength=1.0):
  stylizer.set_style(style, strength)
  return stylize.stylize_image(stylizer, image)


def style_row(stylizer: stylizers.Stylizer, image: np.ndarray) -> Row:
  """The photo, then the photo in each style (index and name as captions)."""
  row = [(image, "photo")]
  names = stylizer.style_names or ("",)
  for i, name in enumerate(names):
    row.append((_render(stylizer, image, name), f"{i}: {name}" if name else "stylized"))
  return row


def mix_row(stylizer: stylizers.Stylizer, image: np.ndarray, first: str, second: str,
            steps: int = 5) -> Row:
  """`steps` mixes from all `first` to all `second`, evenly spaced."""
  row = []
  for t in np.linspace(0.0, 1.0, steps):
    spec = f"{first}:{1 - t:.3g},{second}:{t:.3g}"
    row.append((_render(stylizer, image, spec), f"{first} {1 - t:.0%} / {second} {t:.0%}"))
  return row


def strength_row(stylizer: stylizers.Stylizer, image: np.ndarray, style: str = "",
                 steps: int = 5) -> Row:
  """Strengths 0 to 1 in `steps` even steps, in `style`."""
  return [(_render(stylizer, image, style, s), f"strength {s:.2g}")
          for s in np.linspace(0.0, 1.0, steps)]


def contact_sheet(stylizer: stylizers.Stylizer, image: np.ndarray,
                  mix: Optional[Sequence[str]] = None, ramp: Optional[str] = None,
                  steps: int = 5, more: Sequence[np.ndarray] = ()) -> List[Row]:
  """The rows of a contact sheet: `image` and each of `more` in every style; a mix of
  `image` between `mix` (two style names or indices) if given; a strength ramp of style
  `ramp` if given ("" for a single-style model). Raises StylizeError naming a bad style."""
  if ramp == "" and stylizer.style_names:  # (checked before any rendering)
    raise stylize.StylizeError(f"--ramp needs one of the model's styles: "
                               f"{', '.join(stylizer.style_names)}")
  rows = [style_row(stylizer, i) for i in (image, *more)]
  if mix:
    if len(mix) != 2:
      raise stylize.StylizeError(f"--mix takes two styles, e.g. --mix starry_night,wave; "
                                 f"got {','.join(mix)}")
    if not stylizer.style_names:
      raise stylize.StylizeError("--mix needs a multi-style model; this one has one style")
    rows.append(mix_row(stylizer, image, mix[0], mix[1], steps))
  if ramp is not None:
    rows.append(strength_row(stylizer, image, ramp, steps))
  return rows
