"""Whether a run may start or resume in its folder, and what its settings change there.

`check_model_dir` reads the run a folder holds (its config.json) and `check_resumable`
compares its settings with the new ones: an architecture change is refused, a change of
what the run learns is listed (and refused unless allowed), the rest is free.
`loss_terms_settings` is what a checkpoint's loss window was measured with (train_lib's
loss-jump guard). No TensorFlow import.
"""

import dataclasses
import functools
import json
import os
from typing import Any, Dict, List

from fastchi_tf import config as config_lib
from fastchi_tf import run_folder

# Settings that change what a checkpoint holds: a resumed run must agree on them.
# (mixed precision adds a loss scale and wraps the optimizer in the checkpoint)
ARCHITECTURE_FIELDS = ("render", "mixed_precision")
# Settings a resumed run may change freely: how long it runs and how often it saves, how its
# folder is spelled, and how the devices share the global batch (the maths stays the same,
# up to rounding). Every other setting changes what the run learns (loss network, weights,
# layers and loss weights, image and style sizes, optimizer, batch, data, seed): resuming
# with another value needs `allow_changes`.
FREE_FIELDS = ("model_dir", "steps", "checkpoint_every", "summary_every", "strategy",
               "devices", "cpu_devices", "deterministic", "max_loss_jump",
               "data.tfds_data_dir")
# Inputs compared by content when both runs recorded it, so that a moved file is no change
# and the same path with other content is; by path for runs that recorded none.
_BY_CONTENT = {"data.style_image": ("data.style_sha256", "style image"),
               "data.train_data": ("data.train_data_sha256", "training data")}


def check_model_dir(cfg: config_lib.TrainConfig, allow_changes: bool) -> List[str]:
  """What `cfg` changes in the run already in its folder (see check_resumable).

  A folder that holds other files but no run is refused: the run's losses.csv and plots
  would replace the user's own."""
  path = os.path.join(cfg.model_dir, "config.json")
  if not os.path.exists(path):
    others = (sorted(n for n in os.listdir(cfg.model_dir)
                     if n not in run_folder.BEFORE_CONFIG and not n.startswith("."))
              if os.path.isdir(cfg.model_dir) else [])
    if others:
      shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
      raise ValueError(f"--model_dir {cfg.model_dir} holds files that are not a training "
                       f"run ({shown}); give a new or empty folder")
    return []
  try:
    with open(path) as f:
      saved = config_lib.TrainConfig.from_dict(json.load(f))
  except (ValueError, TypeError) as e:  # not JSON, or not a run's settings
    raise ValueError(f"{path} is not a training run's config.json ({e}); "
                     "use another --model_dir") from None
  return check_resumable(saved, cfg, allow_changes)


def check_resumable(saved: config_lib.TrainConfig, current: config_lib.TrainConfig,
                    allow_changes: bool = False) -> List[str]:
  """Raises ValueError if `current` cannot resume the run described by `saved`.

  Returns what `current` changes in what the run learns: refused (ValueError listing it)
  unless `allow_changes`. An architecture change is always refused: the checkpoint would not
  fit the new model.
  """
  for key in ARCHITECTURE_FIELDS:
    old, new = getattr(saved, key), getattr(current, key)
    if old != new:
      raise ValueError(
          f"{current.model_dir} holds a run with a different {key} configuration "
          f"({old} vs {new}); use another --model_dir")
  changes = changed_settings(saved, current)
  if changes and not allow_changes:
    raise ValueError(
        f"{current.model_dir} holds a run trained with other settings: {'; '.join(changes)}. "
        "Use another --model_dir, or --allow_config_change to go on with the new settings")
  return changes


def changed_settings(saved: config_lib.TrainConfig,
                     current: config_lib.TrainConfig) -> List[str]:
  """What `current` changes in what the run `saved` learns, as readable strings.

  Architecture changes are `check_resumable`'s; free settings are not listed.
  """
  old, new = _flatten(saved), _flatten(current)
  digests = {digest for digest, _ in _BY_CONTENT.values()}
  changes = []
  for key in old:
    if (key in FREE_FIELDS or key in digests or
        key.split(".")[0] in ARCHITECTURE_FIELDS):
      continue
    if key in _BY_CONTENT:
      digest, what = _BY_CONTENT[key]
      if old[digest] and new[digest]:
        if old[digest] != new[digest]:
          changes.append(f"{what} content ({old[key]} -> {new[key]}; sha256 "
                         f"{old[digest][:12]} -> {new[digest][:12]})")
        continue
    if old[key] != new[key]:
      change = f"--{config_lib.flag_name(key)} {_show(old[key])} -> {_show(new[key])}"
      if change not in changes:  # loss_net.seed and seed are both --seed
        changes.append(change)
  return changes


def loss_terms_settings(cfg: config_lib.TrainConfig) -> Dict[str, Any]:
  """{dotted key: value} of the settings that define the loss terms' unweighted values.

  Two runs that agree on these measure the same losses, whatever their weights, optimizer,
  batch or data: a resumed run's loss-jump guard judges against the earlier steps then.
  """
  keys = ["loss_net.name", "loss_net.weights", "loss_net.content_layers",
          "loss_net.style_layers", "loss.reduction", "loss.style_layer_norm",
          "data.image_size", "data.style_size"]
  if cfg.loss.style_statistic != "gram":  # (checkpoints from before it was a setting)
    keys.append("loss.style_statistic")
  if cfg.loss_net.weights == "random":  # (--seed also sets it; it matters for random ones)
    keys.append("loss_net.seed")
  if cfg.temporal.weight > 0:
    keys += [f"temporal.{f.name}" for f in dataclasses.fields(config_lib.TemporalConfig)
             if f.name != "weight"]
  settings = {key: functools.reduce(getattr, key.split("."), cfg) for key in keys}
  # The style images by content where recorded (a moved file is the same style).
  settings["data.style_image"] = cfg.data.style_sha256 or cfg.data.style_image
  return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _flatten(config, prefix=""):
  """{"loss.style_weight": 1.0, ...}: every setting under its dotted name."""
  flat = {}
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if dataclasses.is_dataclass(value):
      flat.update(_flatten(value, f"{prefix}{f.name}."))
    else:
      flat[prefix + f.name] = value
  return flat


def _show(value):
  if value is None:
    return "default"
  if isinstance(value, tuple):
    return ",".join(map(str, value))
  return str(value)
