"""Versions, devices, threads, the runtime that will run, and the shipped model files; or a
training run's step, styles and changed settings (`info RUN`).

The command `fastchi info` run from the repository (fastchi_tf/commands/info.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("info")
