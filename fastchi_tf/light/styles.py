"""The styles of a multi-style network: their files at training, their choice at inference.

Pure Python, so that tools can check a `--style` or a `--style_image` list before TensorFlow
starts (the training's draw of a style per example is data.draw_styles).
"""

import os
from typing import List, Sequence

import numpy as np

# What a style folder is searched for (data.IMAGE_EXTENSIONS, without importing TensorFlow).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def style_name(path: str) -> str:
  """A style's name: its file's stem ("styles/starry_night.jpg" -> "starry_night")."""
  return os.path.splitext(os.path.basename(path))[0]


def style_files(spec: str) -> List[str]:
  """The style image files of `--style_image`: a comma list of files and folders (a
  folder's images sorted by name). Raises ValueError naming a missing path, an empty
  folder, or two styles of the same name."""
  files = []
  for item in (s.strip() for s in spec.split(",")):
    if not item:
      continue
    if not os.path.exists(item):
      raise ValueError(f"style image not found: {item}")
    if os.path.isdir(item):
      found = sorted(os.path.join(item, n) for n in os.listdir(item)
                     if n.lower().endswith(IMAGE_EXTENSIONS)
                     and os.path.isfile(os.path.join(item, n)))
      if not found:
        raise ValueError(f"style folder {item} holds no images "
                         f"({', '.join(IMAGE_EXTENSIONS)})")
      files += found
    else:
      files.append(item)
  if not files:
    raise ValueError("--style_image is required")
  names = [style_name(f) for f in files]
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise ValueError(f"two style images are named {repeated[0]!r}; style names are file "
                     "stems and must differ")
  return files


def accepted_forms(n: int) -> str:
  """What `--style` takes, for error messages about a model of `n` styles."""
  return (f"--style takes a style's name or index (wave, 5), names for an equal mix "
          f"(starry_night,wave; indices too: 0,5), names with weights "
          f"(starry_night:0.7,wave:0.3) or one weight per style in decimals ({n} numbers, "
          f"e.g. {','.join(['0.5', '0.5'] + ['0'] * (n - 2)) if n > 1 else '1.0'})")


def parse_choice(spec: str, names: Sequence[str]) -> np.ndarray:
  """`--style` as float32 weights [N] summing to 1.

  spec is a name or an index; a list of them, an equal mix ("a,b" is "a:0.5,b:0.5", and
  "0,5" the mix of styles 0 and 5); a mix with weights "name:weight,name:weight" (styles
  left out weigh 0); or a vector of N weights with a decimal point in one at least
  ("0.2,0,0.8": "1,0" would read as indices). Integers alone name each style once (is
  "1,0,0" a vector or a mix? refused). Weights are non-negative, not all zero. Raises
  ValueError naming the problem and the accepted forms.
  """
  try:
    return _parse_choice(spec.strip(), names)
  except ValueError as e:
    raise ValueError(f"{e}; {accepted_forms(len(names))}") from None


def is_number(text: str) -> bool:
  """Whether --style would read `text` as a weight (nan and inf included)."""
  try:
    float(text)
    return True
  except ValueError:
    return False


def _parse_choice(spec, names):
  n = len(names)
  shown = ", ".join(f"{i}:{name}" for i, name in enumerate(names))

  def index(token):
    if token in names:
      return list(names).index(token)
    if token.lstrip("-").isdigit():
      i = int(token)
      if not 0 <= i < n:
        raise ValueError(f"style index {i} is out of range: the model has {n} styles "
                         f"(0 to {n - 1})")
      return i
    raise ValueError(f"unknown style {token!r}; the model's styles are {shown}")

  parts = [p.strip() for p in spec.split(",")]
  if not all(parts):
    raise ValueError(f"--style {spec!r} has an empty item")
  weighted = [":" in p for p in parts]
  if any(weighted) and not all(weighted):
    raise ValueError(f"--style mix {spec!r}: give every style a weight (name:weight) or none")
  weights = np.zeros(n, np.float64)
  if not any(weighted):
    # Numbers with a decimal are a weight vector ("0.2,0,0.8"); otherwise names and
    # indices, an equal mix ("wave" alone is one style, "0,5" two).
    integers = [p for p in parts if p.lstrip("-").isdigit()]
    if all(is_number(p) for p in parts) and len(integers) < len(parts):
      if len(parts) != n:
        raise ValueError(f"--style {spec!r}: {len(parts)} weights for a model of {n} styles "
                         f"({shown})")
      return normalize([float(p) for p in parts], f"--style {spec!r}")
    if len(integers) == len(parts) > len(set(int(p) for p in parts)):
      raise ValueError(f"--style {spec!r} names an index twice: integers alone are an equal "
                       "mix of those styles; write a weight vector in decimals")
    for part in parts:
      weights[index(part)] += 1.0
    return normalize(weights, f"--style {spec!r}")
  for part in parts:
    token, _, value = part.rpartition(":")
    if not token.strip():
      raise ValueError(f"--style mix {spec!r}: {part!r} names no style; write each style as "
                       "name:weight")
    try:
      w = float(value)
    except ValueError:
      raise ValueError(f"--style mix {spec!r}: {value!r} is not a number") from None
    if not np.isfinite(w) or w < 0:
      raise ValueError(f"--style mix {spec!r}: weights must be non-negative numbers, "
                       f"got {value}")
    weights[index(token.strip())] += w
  return normalize(weights, f"--style {spec!r}")


def normalize(weights: Sequence[float], what: str = "style weights") -> np.ndarray:
  """Non-negative weights divided by their sum; ValueError if negative or all zero."""
  weights = np.asarray(weights, np.float64)
  if not np.all(np.isfinite(weights)) or np.any(weights < 0):
    raise ValueError(f"{what}: weights must be non-negative numbers")
  if weights.max(initial=0) <= 0:
    raise ValueError(f"{what}: the weights are all zero")
  weights = weights / weights.max()  # (a sum of weights near float64's largest overflows)
  return (weights / weights.sum()).astype(np.float32)


def weights_vector(spec: str, names: Sequence[str]) -> np.ndarray:
  """`--style` for a model with `names`: its weights, or [1] for a single-style model.

  An empty spec picks the first style only where that is unambiguous (one style).
  """
  if not names:  # a single-style model
    if spec and spec.strip() not in ("0",):
      raise ValueError(f"--style {spec!r}: the model has a single style; leave --style out")
    return np.ones(1, np.float32)
  if not spec:
    raise ValueError(f"the model has {len(names)} styles; choose one with --style "
                     f"(e.g. --style {names[0]}) or see --list_styles")
  return parse_choice(spec, names)
