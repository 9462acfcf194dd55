"""fastchi COMMAND [flags]: every FastChi-TF program behind one command.

  fastchi stylize --input photo.jpg --style starry_night
  fastchi video --input clip.mp4 --output out.mp4 --style wave
  fastchi train --style_image style.jpg --train_data photos/ --model_dir runs/style
  fastchi info
  python -m fastchi_tf ...      (the same, without the installed command)

`fastchi COMMAND --help` lists a command's flags; `fastchi --version` prints the version.
"""

import sys
from typing import NoReturn

from fastchi_tf import cli
from fastchi_tf import commands


def usage() -> str:
  width = max(len(name) for name in commands.COMMANDS)
  lines = ["usage: fastchi COMMAND [flags]   (fastchi COMMAND --help for its flags)", "",
           "commands:"]
  lines += [f"  {name:<{width}}  {text}" for name, (_, text) in commands.COMMANDS.items()]
  return "\n".join(lines)


def main() -> NoReturn:
  args = sys.argv[1:]
  if not args or args[0] in ("-h", "--help", "-help", "help"):
    cli.say(usage())  # (`fastchi --help | head -1`: no traceback)
    sys.exit(cli.OK if args else cli.USAGE)
  if args[0] == "--version":
    cli.say(f"fastchi {cli.version()}")
    sys.exit(cli.OK)
  name = args[0]
  if name not in commands.COMMANDS:
    print(f"fastchi: error: unknown command {name!r}; choose one of "
          f"{', '.join(commands.COMMANDS)}", file=sys.stderr)
    sys.exit(cli.USAGE)
  sys.argv = [f"fastchi {name}"] + args[1:]
  commands.run(name)


if __name__ == "__main__":
  main()
