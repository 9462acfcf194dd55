"""Exports a training run.

The command `fastchi export` run from the repository (fastchi_tf/commands/export.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("export")
