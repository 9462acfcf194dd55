"""The style collection that ships inside the package (trained by experiments/shipped/styles.py).

fastchi_tf/shipped/ holds model.keras, model_float16.tflite, MODEL_CARD.md and
training_config.json (the settings it was trained with). The tools use
it when --model is not given: the .tflite file, which runs on LiteRT alone (a light start,
tiled too), or the .keras file where --runtime chooses TensorFlow (fastchi_tf.light.runtime).
"""

import datetime
import json
import os
import re
from typing import Optional

from fastchi_tf import config as config_lib
from fastchi_tf import run_folder
from fastchi_tf import stylizers
from fastchi_tf.light import export_names

# FASTCHI_SHIPPED_DIR points the tools' default at another collection (a newer one, or a
# test's).
FOLDER = os.environ.get("FASTCHI_SHIPPED_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "shipped")
KERAS_FILE = export_names.KERAS_FILE
TFLITE_FILE = export_names.TFLITE_FILES["float16"]
CARD_FILE = "MODEL_CARD.md"
# The training run's settings (its config.json): the loss a network was trained with, which a
# style added to it (fastchi add-style) must be trained with too.
TRAINING_CONFIG_FILE = "training_config.json"

# The paintings (../shared/data/styles/SOURCES.md): name -> credit.
CREDITS = {
    "composition_vii": "Wassily Kandinsky, Composition VII (1913)",
    "starry_night": "Vincent van Gogh, The Starry Night (1889)",
    "the_scream": "Edvard Munch, The Scream (1893)",
    "the_shipwreck_of_the_minotaur": "J. M. W. Turner, The Shipwreck of the Minotaur "
                                     "(c. 1810)",
    "udnie": "Francis Picabia, Udnie (1913)",
    "wave": "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831)",
}
TRAINING_DATA = ("BSDS500 train/ and val/ (300 photos; Arbelaez et al., TPAMI 2010; "
                 "non-commercial research licence)")


class MissingError(ValueError):
  """The shipped collection is missing or damaged."""


def path(kind: str = "tflite") -> str:
  """The shipped model file ("tflite" or "keras"); MissingError if it is not there."""
  name = TFLITE_FILE if kind == "tflite" else KERAS_FILE
  found = os.path.join(FOLDER, name)
  if not os.path.isfile(found) or os.path.getsize(found) == 0:
    raise MissingError(f"the shipped style collection is missing ({found}); reinstall "
                       "fastchi-tf, or give --model")
  return found


def load(kind: str = "tflite"):
  """The shipped collection as a stylizers.Stylizer; MissingError, in one line, if a file is
  missing or damaged."""
  found = path(kind)
  try:
    return stylizers.load_stylizer(found)
  except ValueError as e:
    raise MissingError(f"the shipped style collection is damaged ({e}); reinstall "
                       "fastchi-tf, or give --model") from None


def training_config(folder: Optional[str] = None) -> config_lib.TrainConfig:
  """The settings the collection in `folder` (default FOLDER) was trained with;
  MissingError if it has no TRAINING_CONFIG_FILE (collections shipped before it)."""
  found = os.path.join(folder or FOLDER, TRAINING_CONFIG_FILE)
  try:
    with open(found) as f:
      return config_lib.TrainConfig.from_dict(json.load(f))
  except (OSError, ValueError, TypeError) as e:
    raise MissingError(f"{found} cannot be read ({e}): the settings the network was trained "
                       "with are needed to add styles to it") from None


def step(folder: str = FOLDER) -> Optional[int]:
  """The training step of the collection in `folder`, as its model card states it (None
  without a card or a step), so that results measured on it can say which network."""
  card = os.path.join(folder, CARD_FILE)
  if not os.path.isfile(card):
    return None
  with open(card) as f:
    found = re.search(r"\bto step (\d+)\b", f.read())
  return int(found.group(1)) if found else None


def model_card(names, step: int, recipe: str, losses: Optional[dict] = None,
               start: Optional[str] = None, history: Optional[list] = None) -> str:
  """The card's markdown; `start` says what the run started from, if not from scratch, and
  `history` (run_folder.history) each change of settings it was resumed with."""
  lines = ["# FastChi-TF shipped styles", "",
           f"One multi-style network (a scale and a shift per style after its convolutions) with "
           f"{len(names)} styles, trained by this project with `{recipe}` to step {step} "
           f"({datetime.date.today().isoformat()})." + (f" {start}" if start else ""), "",
           f"Training photos: {TRAINING_DATA}. Loss network: VGG16 with hed's weights "
           "(fine-tuned from ImageNet).", "",
           "| index | style | painting (public domain) |", "|---|---|---|"]
  lines += [f"| {i} | {n} | {CREDITS.get(n, 'unknown')} |" for i, n in enumerate(names)]
  lines += ["", "The painting photographs are the copies the fast-style-transfer reference "
            "implementations distribute (jcjohnson/fast-neural-style, "
            "lengstrom/fast-style-transfer).", ""]
  if history:
    lines += ["Settings changed during training (resumed with --allow_config_change; the run "
              "folder's config_history.jsonl keeps the earlier ones):", ""]
    lines += [f"- {line}" for line in run_folder.history_lines(history)] + [""]
  if losses:
    lines += ["Held-out losses (BSDS500 test/): experiments/results/styles/report.md.", ""]
  lines += ["Files: model.keras (Keras, safe_mode loadable), model_float16.tflite (LiteRT). "
            "Both take a uint8 image and float32 style weights; see docs/exports.md.", "",
            "How the collection was trained, and how it compares with a peer: "
            "docs/styles_history.md.", ""]
  return "\n".join(lines)


def ship(model_dir: str, step: int, folder: str = FOLDER,
         recipe: str = "python -m experiments.shipped.styles", start: Optional[str] = None) -> dict:
  """Exports the run in `model_dir` into `folder` (replaced whole); returns file sizes."""
  # TensorFlow only to ship a run; finding and loading the files needs none.
  from fastchi_tf import export
  from fastchi_tf import render_net
  model = export.restore_render_net(model_dir)
  names = render_net.style_names(model)

  def write(tmp):
    export.export_keras(model, os.path.join(tmp, KERAS_FILE))
    with open(os.path.join(tmp, TFLITE_FILE), "wb") as f:
      f.write(export.tflite_bytes(model, "float16"))
    with open(os.path.join(tmp, CARD_FILE), "w") as f:
      f.write(model_card(names, step, recipe, losses=True, start=start,
                         history=run_folder.history(model_dir)))
    with open(os.path.join(tmp, TRAINING_CONFIG_FILE), "w") as f:
      f.write(config_lib.TrainConfig.of_run(model_dir).to_json() + "\n")

  export.write_folder(write, folder)
  return {name: os.path.getsize(os.path.join(folder, name))
          for name in (KERAS_FILE, TFLITE_FILE, CARD_FILE, TRAINING_CONFIG_FILE)}
