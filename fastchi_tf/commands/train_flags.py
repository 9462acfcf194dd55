"""The train command's flags: one absl flag per setting of config.TrainConfig.

`define_flags` makes them from the dataclasses' fields (type, default, help, choices, and a
numeric setting's range as config.range_text words it); `from_flags` reads them back into a
TrainConfig. A command's module: the library never reads flags.
"""

import dataclasses
import functools
import typing
from typing import Any

from absl import flags

from fastchi_tf import config as config_lib


def define_flags(flag_values: Any = None) -> None:
  """Defines an absl flag per setting (on absl's FLAGS unless `flag_values` is given).

  Each is named by `config.flag_name` and takes its field's type, default, help and choices,
  and a numeric one its range of config.RANGES. A flag that two settings share (--seed) is
  defined by the field it is named after.
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  defined = set()
  for key, f, kind in sorted(_settings(), key=lambda s: s[0] in config_lib.FLAG_NAMES):
    name = config_lib.flag_name(key)
    if name in defined:
      continue
    defined.add(name)
    kind, help_, choices = _optional_of(kind), f.metadata["help"], f.metadata["choices"]
    default = None if f.default == "" else f.default  # "": a required path
    if choices:
      flags.DEFINE_enum(name, default, list(choices), help_, flag_values=fv)
    elif kind is bool:
      flags.DEFINE_bool(name, default, help_, flag_values=fv)
    elif kind is str:
      flags.DEFINE_string(name, default, help_, flag_values=fv)
    elif typing.get_origin(kind) is tuple:
      flags.DEFINE_list(name, default, help_, flag_values=fv)
    else:
      # A parser of its own (keyword arguments keep absl from sharing one), whose help shows
      # the range that is checked: absl's bounds would show [0.0, 1.0] for a setting that
      # refuses 0, and let NaN through.
      parser = (flags.IntegerParser if kind is int else flags.FloatParser)(lower_bound=None)
      parser.syntactic_help = config_lib.range_text(key)
      flags.DEFINE(parser, name, default, help_, flag_values=fv,
                   serializer=flags.ArgumentSerializer())
      flags.register_validator(
          name, lambda v, key=key: v is None or config_lib.in_range(key, v), flag_values=fv,
          message=f"--{name} must be {config_lib.range_text(key)}")


def from_flags(flag_values: Any = None) -> config_lib.TrainConfig:
  """The TrainConfig that the flags of `define_flags` describe."""
  fv = flags.FLAGS if flag_values is None else flag_values
  cfg = config_lib.TrainConfig()
  for key, f, _ in _settings():
    value = fv[config_lib.flag_name(key)].value
    if isinstance(value, list):
      value = tuple(value) or None  # an empty list: the default
    elif value is None:
      value = f.default
    parent, _, name = key.rpartition(".")
    setattr(functools.reduce(getattr, parent.split("."), cfg) if parent else cfg, name, value)
  return cfg


def _settings(cls=config_lib.TrainConfig, prefix=""):
  """(dotted key, field, type) of each setting, sub-configs' included: what flags set."""
  hints = typing.get_type_hints(cls)
  for f in dataclasses.fields(cls):
    if dataclasses.is_dataclass(hints[f.name]):
      yield from _settings(hints[f.name], f"{prefix}{f.name}.")
    elif "help" in f.metadata:
      yield prefix + f.name, f, hints[f.name]


def _optional_of(kind):
  """Optional[X] -> X."""
  args = typing.get_args(kind)
  if typing.get_origin(kind) is typing.Union and type(None) in args:
    return next(a for a in args if a is not type(None))
  return kind
