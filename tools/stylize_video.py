"""Stylizes a video.

The command `fastchi video` run from the repository (fastchi_tf/commands/stylize_video.py).
"""

from fastchi_tf import commands

if __name__ == "__main__":
  commands.run("video")
