"""The offline demo: `fastchi demo` run from the repository (fastchi_tf/commands/demo.py)."""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("demo")
