"""Adds your own painting to the shipped styles.

The command `fastchi add-style` run from the repository (fastchi_tf/commands/add_style.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("add-style")
