"""The command-line programs, one module each; run by name so only one defines its flags.

  fastchi stylize --input photo.jpg --style wave     # or tools/stylize.py from a checkout
  python -m fastchi_tf train --style_image s.jpg --train_data photos/ --model_dir runs/s

Each module has a docstring (its --help text) and `main(argv)`; `run` imports the chosen
one, makes its flags the ones --help lists, and runs it with cli.run (one-line errors,
exit status 2 for bad usage, 1 for failed work).
"""

import importlib
import sys
from typing import NoReturn

from absl import flags

from fastchi_tf import cli

# command name: (module, one line for `fastchi --help`)
COMMANDS = {
    "stylize": ("stylize", "stylize photos (the shipped styles by default)"),
    "video": ("stylize_video", "stylize a video, keeping its audio"),
    "train": ("train", "train a style's render network (resumes)"),
    "export": ("export", "export a run as SavedModel, .keras and TFLite"),
    "contact-sheet": ("contact_sheet", "every style of a model on photos, in one PNG"),
    "demo": ("demo", "the offline demo: shipped styles, then a style trained from scratch"),
    "info": ("info", "versions, devices, threads and the shipped model files"),
    "serve": ("serve", "a web page: stylize photos and a live camera in the browser"),
    "add-style": ("add_style", "add your own painting to the shipped styles (~15 min)"),
}


def run(name: str, prog: str = "") -> NoReturn:
  """Runs command `name` on sys.argv[1:]; `prog` names it in messages and --help."""
  module_name = f"{__name__}.{COMMANDS[name][0]}"
  if prog:
    sys.argv[0] = prog
  try:
    module = importlib.import_module(module_name)
  except ModuleNotFoundError as e:  # a command the light install cannot run
    cli.missing_package(e)
  # absl's --help lists the flags of the main module (sys.argv[0]); ours live in `module`
  # and in cli and style_flags (the thread, device and style flags they define for the
  # commands).
  for owner in (module_name, cli.__name__, f"{__name__}.style_flags"):
    for flag in flags.FLAGS.get_key_flags_for_module(owner):
      flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  main_module = sys.modules.get("__main__")
  if main_module is not None:
    main_module.__doc__ = module.__doc__
  cli.run(module.main)
