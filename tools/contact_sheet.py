"""Renders every style of a model into one PNG.

The command `fastchi contact-sheet` run from the repository (fastchi_tf/commands/contact_sheet.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("contact-sheet")
