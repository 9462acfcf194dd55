"""A user's style collection: the folder `fastchi add-style` grows, read without TensorFlow.

The folder (default: the platform's user data folder + "/styles", FASTCHI_COLLECTION_DIR or
--collection to move it) holds the grown multi-style network, the shipped styles and the
user's, as model.keras and model_float16.tflite; training_config.json, the settings it was
trained with; collection.json, what each added style was added from; previews/NAME.png; and
runs/NAME/, the unfinished runs that a second add-style resumes. `fastchi stylize` and
`fastchi video` use its network when --style names one of the user's styles.
"""

import dataclasses
import hashlib
import json
import os
import re
from typing import List, Optional, Sequence, Tuple

from fastchi_tf.light import export_names
from fastchi_tf.light import io_utils
from fastchi_tf.light import styles

INDEX_FILE = "collection.json"
KERAS_FILE = export_names.KERAS_FILE
TFLITE_FILE = export_names.TFLITE_FILES["float16"]
TRAINING_CONFIG_FILE = "training_config.json"  # as shipped.TRAINING_CONFIG_FILE
RUNS = "runs"  # unfinished runs, one folder per name
PREVIEWS = "previews"
LOCK_FILE = ".lock"
ENV = "FASTCHI_COLLECTION_DIR"
# A style's name: what --style takes and a file stem; not a number (an index) nor a mix.
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


def default_folder() -> str:
  """FASTCHI_COLLECTION_DIR, else platformdirs' user data folder for fastchi + "/styles"
  (~/.local/share/fastchi/styles on Linux). CollectionError without platformdirs."""
  if os.environ.get(ENV):
    return os.environ[ENV]
  try:
    import platformdirs  # pylint: disable=g-import-not-at-top  (only when no folder is given)
  except ModuleNotFoundError:
    raise CollectionError(
        "platformdirs is not installed: the default style collection's folder needs it; "
        f"pip install -r requirements-lite.txt, or give the folder with ${ENV} or "
        "--collection") from None
  return os.path.join(platformdirs.user_data_dir("fastchi", appauthor=False), "styles")


@dataclasses.dataclass
class Added:
  """A style of the collection that add-style trained."""
  name: str
  painting: str  # the file it was added from, as given
  painting_sha256: str
  minutes: float  # trained for
  steps: int
  added: str  # ISO time


@dataclasses.dataclass
class Collection:
  """collection.json: the network's styles (the base's, then the added), and the base."""
  folder: str
  names: Tuple[str, ...]  # every style of model.keras, in order
  added: List[Added]
  base_sha256: str  # of the shipped model.keras the collection grew from

  @property
  def added_names(self) -> Tuple[str, ...]:
    return tuple(a.name for a in self.added)

  def model(self, kind: str = "tflite") -> str:
    return os.path.join(self.folder, TFLITE_FILE if kind == "tflite" else KERAS_FILE)

  def find(self, name: str) -> Optional[Added]:
    return next((a for a in self.added if a.name == name), None)

  def to_json(self) -> str:
    return json.dumps({"names": list(self.names), "base_sha256": self.base_sha256,
                       "added": [dataclasses.asdict(a) for a in self.added]}, indent=2)


class CollectionError(ValueError):
  """A collection folder that cannot be read."""


def read(folder: str) -> Optional[Collection]:
  """The collection in `folder`, or None when it holds none yet (no collection.json)."""
  path = os.path.join(folder, INDEX_FILE)
  if not os.path.isfile(path):
    return None
  try:
    with open(path) as f:
      d = json.load(f)
    return Collection(folder, tuple(d["names"]), [Added(**a) for a in d["added"]],
                      d["base_sha256"])
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise CollectionError(f"{path} is not a style collection's index ({e})") from None


def write(collection: Collection) -> None:
  """collection.json, atomically."""
  io_utils.write_text(os.path.join(collection.folder, INDEX_FILE), collection.to_json() + "\n")


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def check_name(name: str) -> None:
  """ValueError unless `name` can be a style's name (--style NAME, a file stem)."""
  if not NAME_PATTERN.fullmatch(name or ""):
    raise ValueError(f"--name {name!r} cannot name a style: use letters, digits, _ and -, "
                     "starting with a letter or _ (at most 64)")
  # --style reads numbers as weights ("nan,inf" would be a weight vector), so a style so
  # named could not be chosen.
  if styles.is_number(name):
    raise ValueError(f"--name {name!r} cannot name a style: it reads as a number (a weight "
                     "in --style); choose another")


def needs_collection(spec: Optional[str], shipped_names: Sequence[str],
                     collection: Optional[Collection], lazy: bool = False) -> bool:
  """Whether --style `spec` needs the collection's network: it does not parse against the
  shipped styles and does against the collection's (a user's style, alone or in a mix).
  `lazy`: whether it might, before the collection is read (it does not parse against the
  shipped styles)."""
  if not spec or (collection is None and not lazy):
    return False
  try:
    styles.weights_vector(spec, shipped_names)
    return False
  except ValueError:
    pass
  if lazy:
    return True
  try:
    styles.weights_vector(spec, collection.names)
    return True
  except ValueError:
    return False


def shipped_changed(collection: Collection, shipped_keras: str) -> Optional[str]:
  """One line when the shipped network is not the one the collection grew from (the
  collection's shipped styles are then the earlier network's), else None."""
  try:
    if file_sha256(shipped_keras) == collection.base_sha256:
      return None
  except OSError:
    return None
  return (f"note: your styles in {collection.folder} were added to an earlier shipped "
          "network; the shipped styles in mixes with them are that network's")


def model_for(style: Optional[str], shipped: str, shipped_keras: str,
              folder: Optional[str] = None, list_styles: bool = False,
              kind: str = "tflite") -> Tuple[str, Optional[str]]:
  """(the model a command uses without --model, a note to show or None).

  The collection's network in `folder` (default_folder() if None) when --style `style` needs
  one of its styles (needs_collection) or the styles are listed; else `shipped`, the shipped
  model's file of `kind`. The collection's .keras file stands in where it has no `kind` file.
  The note says when the shipped network changed since the collection grew (shipped_changed).

  The collection is read only when the shipped styles do not answer, so a damaged one (or
  no platformdirs) never stops them: listing the styles then lists the shipped ones, with a
  note saying why. Raises CollectionError for a style that needs an unreadable collection,
  or a `folder` given that holds no collection.
  """
  from fastchi_tf.light import model_files  # pylint: disable=g-import-not-at-top
  try:
    shipped_names = model_files.style_names(shipped) or ()
  except model_files.ModelFileError:  # a damaged shipped file: loading it names the problem
    return shipped, None
  if not list_styles and not needs_collection(style, shipped_names, None, lazy=True):
    return shipped, None
  given = folder is not None
  try:
    folder = folder if given else default_folder()
    found = read(folder)
  except CollectionError as e:
    if list_styles:
      return shipped, f"note: {e}; listing the shipped styles"
    raise
  if found is None:
    if given:
      raise CollectionError(f"--collection {folder} holds no styles yet (no {INDEX_FILE}); "
                            "fastchi add-style makes one")
    return shipped, None
  if not (list_styles or needs_collection(style, shipped_names, found)):
    return shipped, None
  path = found.model(kind)
  return (path if os.path.isfile(path) else found.model("keras"),
          shipped_changed(found, shipped_keras))


def beside(model: str) -> Optional[Collection]:
  """The collection whose network `model` is (collection.json beside it), else None."""
  folder = os.path.dirname(os.path.abspath(model))
  if os.path.basename(model) not in (KERAS_FILE, TFLITE_FILE):
    return None
  try:
    return read(folder)
  except CollectionError:
    return None
