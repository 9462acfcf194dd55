"""Trains a style's render network.

The command `fastchi train` run from the repository (fastchi_tf/commands/train.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("train")
