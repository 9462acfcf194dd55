"""Serves the web page: `fastchi serve` run from the repository (fastchi_tf/commands/serve.py)."""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("serve")
