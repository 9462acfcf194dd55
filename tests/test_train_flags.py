import os
import re

from absl import flags

from fastchi_tf import config as config_lib
from fastchi_tf.commands import train_flags
from test_config import _claimed  # the range phrases' reader
from tool_runner import ROOT


def parse_flags(*args):
  flag_values = flags.FlagValues()
  train_flags.define_flags(flag_values)
  flag_values(["train.py", *args])
  return flag_values


def test_a_flag_per_setting_named_after_its_field_or_an_alias():
  flag_values = parse_flags()
  settings = list(train_flags._settings())
  assert {config_lib.flag_name(key) for key, _, _ in settings} == set(flag_values)
  for key, _, _ in settings:
    assert config_lib.flag_name(key) == key.split(".")[-1] or key in config_lib.FLAG_NAMES
  numeric = {key for key, f, kind in settings
             if train_flags._optional_of(kind) in (int, float)}
  assert numeric == set(config_lib.RANGES)  # and so every numeric flag is bounded
  assert train_flags.from_flags(flag_values) == config_lib.TrainConfig()


def _enforced(name, value):
  """Whether tools/train.py takes --name=value: its flag parses and the config checks."""
  try:
    flag_values = parse_flags("--model_dir", "run", "--style_image", "s.png",
                              "--train_data", "photos", f"--{name}={value}")
    train_flags.from_flags(flag_values)._check_settings()
  except (flags.Error, ValueError):
    return False
  return True


def test_every_numeric_flag_shows_the_range_that_is_enforced():
  # --learning_rate showed [0.0, 1.0] while 0 was refused, --max_loss_jump "non-negative"
  # while 0.5 was refused.
  flag_values = parse_flags()
  for key in config_lib.RANGES:
    name = config_lib.flag_name(key)
    shown = flag_values[name].parser.syntactic_help
    numbers = {float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e\d+)?", shown)} | {0.0}
    values = {"nan", "inf", "-inf", "-1", "0.5", "1e300"}
    for n in numbers:
      for delta in (0, 1, -1, 1e-6, -1e-6, 0.5):
        values.add(repr(int(n + delta)) if float(n + delta).is_integer() else repr(n + delta))
    for value in sorted(values):
      assert _claimed(shown, value) == _enforced(name, value), (name, shown, value)


def test_flags_set_their_settings_aliases_included():
  cfg = train_flags.from_flags(parse_flags(
      "--network", "original", "--loss_net", "vgg16", "--loss_weights", "hed", "--seed", "5",
      "--loss_reduction", "sum", "--style_layers", "relu1_2,relu2_2", "--devices", "0,1",
      "--style_size", "64", "--tv_weight", "0", "--model_dir", "run", "--deterministic"))
  assert cfg == config_lib.replace(
      config_lib.TrainConfig(), model_dir="run", render=dict(variant="original"),
      loss_net=dict(name="vgg16", weights="hed", seed=5, style_layers=("relu1_2", "relu2_2")),
      loss=dict(reduction="sum", tv_weight=0.0), data=dict(style_size=64),
      devices=("0", "1"), seed=5, deterministic=True)


def readme_training_flags():
  """({flag: default as written} of docs/training.md's flag table, the section's text)."""
  text = open(os.path.join(ROOT, "docs", "training.md")).read()
  section = text[text.index("## Flags\n"):]
  section = section[:section.index("\n## ")]
  table = {}
  for line in section.splitlines():
    if line.startswith("| `--"):
      names, defaults = line.split(" | ")[:2]
      names = [n.strip(" |`-") for n in names.split(",")]
      defaults = [d.strip(" `") for d in defaults.split(",")]
      table.update(zip(names, defaults * len(names) if len(defaults) == 1 else defaults))
  return table, section


def test_the_readme_documents_the_flags_and_their_defaults():
  flag_values = parse_flags()
  documented, section = readme_training_flags()
  documented.pop("allow_config_change")  # tools/train.py's own, not a setting
  assert set(documented) <= set(flag_values)
  assert not [name for name in flag_values if f"`--{name}`" not in section]
  words = {"required": None, "none": None, "all": None, "per network": None, "off": False}
  for name, text in documented.items():
    default = flag_values[name].default
    if text in words:
      assert default == words[text], name
    elif isinstance(default, (int, float)):
      assert default == float(text), name
    else:
      assert default == text, name
