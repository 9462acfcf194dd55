"""Stylizes photos: `fastchi stylize` run from the repository (fastchi_tf/commands/stylize.py)."""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("stylize")
