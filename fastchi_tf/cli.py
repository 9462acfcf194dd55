"""What every tool shares: a quiet start, one-line errors with meaningful exit codes.

Exit status: 0 done (and --help), 1 the work failed, 2 bad usage (flags, paths),
130 interrupted (Ctrl-C), 141 standard output's reader gone (`| head`), as shells expect.
"""

import contextlib
import os
import signal
import sys
from typing import Callable, NoReturn, Optional

from absl import flags

from fastchi_tf.light import io_utils
from fastchi_tf.light import locks
from fastchi_tf.light import runtime as runtime_lib

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
PIPE_CLOSED = 128 + signal.SIGPIPE  # as a shell reports a tool that SIGPIPE ended: 141
_HELP = {"-h": True, "-help": True, "--help": True, "-?": True, "--helpshort": True,
         "--helpfull": False}


def tool_name() -> str:
  return os.path.basename(sys.argv[0]) or "fastchi"


class UsageError(ValueError):
  """Bad flags or paths, found by library code (a job): `run` says it in one line, status
  2, as usage_error does."""


class Failed(Exception):
  """The work failed: `run` says it in one line, status 1, as fail does."""


class Interrupted(Exception):
  """Ctrl-C, after the job has tidied up; the message says what was left: status 130."""


def usage_error(message: str | BaseException) -> NoReturn:
  """Bad flags or paths: one line, status 2."""
  print(f"{tool_name()}: error: {message}", file=sys.stderr)
  sys.exit(USAGE)


def fail(message: str | BaseException) -> NoReturn:
  """The work failed: one line, status 1."""
  print(f"{tool_name()}: error: {message}", file=sys.stderr)
  sys.exit(FAILED)


def warn(message: str | BaseException) -> None:
  """A note or a skipped item: one line on stderr, no exit."""
  print(f"{tool_name()}: {message}", file=sys.stderr)


def require(*names: str) -> None:
  """Usage error unless every named flag is set."""
  missing = [f"--{name}" for name in names if not flags.FLAGS[name].value]
  if missing:
    usage_error(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")


MIN_TILE = 64  # tiles smaller than the tiling margin would be mostly margin


def check_tile(tile: Optional[int]) -> None:
  """--tile: None (automatic), 0 (never) or at least MIN_TILE; else UsageError."""
  if tile is not None and tile != 0 and tile < MIN_TILE:
    raise UsageError(f"--tile must be 0 (never) or at least {MIN_TILE}, got {tile}")


TILE_RANGE = f"0 (never) or at least {MIN_TILE}"  # what check_tile takes


def define_tile_flag(help_text: str, flag_values=None) -> None:
  """--tile (unset: automatic), refusing at parse what check_tile refuses, with a help that
  shows that range: absl's lower bound of 0 showed "a non-negative integer" while 1 to 63
  were refused."""
  fv = flags.FLAGS if flag_values is None else flag_values
  parser = flags.IntegerParser(lower_bound=None)  # (a keyword: absl shares no parser then)
  parser.syntactic_help = TILE_RANGE
  flags.DEFINE(parser, "tile", None, help_text, flag_values=fv,
               serializer=flags.ArgumentSerializer())
  flags.register_validator("tile", lambda v: v is None or v == 0 or v >= MIN_TILE,
                           message=f"--tile must be {TILE_RANGE}", flag_values=fv)


def interrupted(message: str | BaseException) -> NoReturn:
  """Ctrl-C: one line, status 130."""
  print(f"{tool_name()}: interrupted; {message}", file=sys.stderr)
  sys.exit(INTERRUPTED)


_FROM_FLAGS = "the running tool's flag"


def import_tensorflow_quietly(num_threads: Optional[int] | str = _FROM_FLAGS,
                              on_device: Optional[str] = _FROM_FLAGS) -> None:
  """Imports TensorFlow keeping the console to our own lines, then gives it `num_threads`
  and `on_device` (as device() gives it; None: TensorFlow's defaults). By default they are
  the running tool's --threads and --device.

  TensorFlow prints oneDNN, CUDA-stub and cuInit lines on a machine without GPUs; they are
  noise to our users. Setting TF_CPP_MIN_LOG_LEVEL to 0 or 1 shows them again.
  """
  if "tensorflow" in sys.modules:
    return
  verbose = os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("0", "1")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  # TensorFlow here, not at the top: its start is what this quiets, and paths that need no
  # TensorFlow (a .tflite model, the checks before a model loads) never pay for it.
  if verbose:
    import tensorflow as tf
  else:
    with io_utils.quiet_stderr():
      import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
  _configure_tensorflow(tf, threads() if num_threads == _FROM_FLAGS else num_threads,
                        device() if on_device == _FROM_FLAGS else on_device)


def _flag(name):
  """A parsed flag's value, or None when the running tool has no such flag."""
  if name not in flags.FLAGS or not flags.FLAGS.is_parsed():
    return None
  return flags.FLAGS[name].value


def define_runtime_flags(device: bool = True) -> None:
  """--threads and (unless the tool chooses devices its own way) --device."""
  flags.DEFINE_integer("threads", None, "CPU threads for TensorFlow's and LiteRT's kernels "
                       "(default: every core).", lower_bound=1)
  if device:
    flags.DEFINE_string("device", None, "Where to compute: cpu, gpu or gpu:N (default: the "
                        "first GPU if there is one, else the CPU).")


def define_runtime_choice_flag(what: str = "the model") -> None:
  """--runtime auto|tflite|tf (fastchi_tf.light.runtime.choose), auto by default."""
  flags.DEFINE_enum(
      "runtime", "auto", runtime_lib.RUNTIMES,
      f"What runs {what}: auto, the faster here (TFLite on XNNPACK when the model has a "
      "TFLite file, as the shipped styles and an export folder's saved_model or model.keras "
      "do, and nothing needs TensorFlow: a GPU, --mixed_precision; fastchi info says "
      "which); tflite; or tf (TensorFlow, oneDNN on CPU).")


def threads() -> Optional[int]:
  """--threads when the running tool has it and it was given, else None (every core)."""
  return _flag("threads")


def threads_setting() -> str:
  value = threads()
  return str(value) if value else f"every core ({os.cpu_count()})"


def device() -> Optional[str]:
  """--device normalized to "cpu" or "gpu:N", or None; a malformed value is a usage error."""
  value = _flag("device")
  if not value:
    return None
  value = value.strip().lower()
  if value in ("cpu", "gpu"):
    return "cpu" if value == "cpu" else "gpu:0"
  kind, _, index = value.partition(":")
  if kind not in ("cpu", "gpu") or not index.isdigit() or (kind == "cpu" and index != "0"):
    usage_error(f"--device must be cpu, gpu or gpu:N, got {value!r}")
  return f"{kind}:{int(index)}" if kind == "gpu" else "cpu"


def _configure_tensorflow(tf, count, chosen):
  """Applies a thread count and a device (as device() gives it) before TensorFlow starts
  its runtime."""
  if count:
    tf.config.threading.set_intra_op_parallelism_threads(count)
    tf.config.threading.set_inter_op_parallelism_threads(count)
  if chosen is None:
    return
  gpus = tf.config.list_physical_devices("GPU")
  if chosen == "cpu":
    tf.config.set_visible_devices([], "GPU")
    return
  index = int(chosen.split(":")[1])
  if index >= len(gpus):
    found = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}" if gpus else "no GPU"
    raise UsageError(f"--device {chosen}: this machine has {found} that TensorFlow can use; "
                     "run with --device cpu or without --device")
  tf.config.set_visible_devices([gpus[index]], "GPU")


def version() -> str:
  """The installed fastchi-tf version (the source tree's if not installed)."""
  # importlib.metadata took 30 ms of every command's start; only --version and info ask.
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  try:
    return metadata.version("fastchi-tf")
  except metadata.PackageNotFoundError:
    return "unknown (not installed)"


# Whether the running tool's main takes positional arguments (main.takes_arguments, as
# fastchi info RUN's does); others refuse them. Set by run.
_takes_arguments = False


def _parse(argv):
  # absl.app (and the absl.logging it brings) only when a tool runs: serve_engine and the
  # experiments import this module too.
  from absl import app
  for arg in argv[1:]:
    if arg in _HELP:
      app.usage(shorthelp=_HELP[arg], writeto_stdout=True)
      sys.exit(OK)
    if arg == "--version":
      print(f"{tool_name()} {version()}")
      sys.exit(OK)
    if arg == "--":
      break
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    usage_error(e)
  if len(rest) > 1 and not _takes_arguments:
    usage_error(f"unexpected arguments {rest[1:]}")
  if not flags.FLAGS["verbosity"].present:
    from absl import logging  # (as app in _parse)
    logging.set_verbosity(logging.WARNING)  # checkpoint "Sharding callback" lines etc.
  return rest


# What the light install (requirements-lite.txt: LiteRT, NumPy, Pillow) leaves out, and
# what needs it.
FULL_INSTALL = {"tensorflow": ".keras and SavedModel models, training and exports",
                "keras": ".keras and SavedModel models, training and exports",
                "imageio_ffmpeg": "the video tools", "imageio": "the video tools",
                "matplotlib": "contact sheets and plots"}


def missing_package(error: ModuleNotFoundError) -> NoReturn:
  """A package of FULL_INSTALL that is not there: one line, status 2; any other missing
  module is raised again (a bug, not the install)."""
  if error.name not in FULL_INSTALL:
    raise error
  usage_error(f"{error.name} is not installed: {FULL_INSTALL[error.name]} need it, and the "
              "light install leaves it out; pip install -r requirements.txt")


def say(text: str) -> None:
  """Prints text to standard output, flushed; its reader gone: quietly, PIPE_CLOSED."""
  try:
    print(text, flush=True)
  except BrokenPipeError:
    _pipe_closed()


def _pipe_closed() -> NoReturn:
  """Standard output's reader is gone (`| head -c1`, `| true`): nothing more to say to it,
  so status PIPE_CLOSED and no message, as `cat` does."""
  # Python's own flush at exit would fail again and print "Exception ignored ...
  # BrokenPipeError"; standard output on /dev/null keeps that quiet (the Python docs'
  # advice for SIGPIPE).
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, sys.stdout.fileno())
  os.close(devnull)
  sys.exit(PIPE_CLOSED)


def run(main: Callable[[list[str]], Optional[int]]) -> NoReturn:
  """absl's app.run with --help exiting 0 and bad flags as one line with status 2; a
  job's UsageError, Failed and Interrupted, a Ctrl-C that the tool does not handle itself,
  and a package that the light install lacks, one line too; standard output's reader gone,
  quietly, status PIPE_CLOSED."""
  from absl import app  # (see _parse)
  global _takes_arguments
  _takes_arguments = getattr(main, "takes_arguments", False)
  for signum in (signal.SIGTERM, signal.SIGHUP):  # kill, timeout, a closed terminal: as Ctrl-C
    if signal.getsignal(signum) is signal.SIG_DFL:
      signal.signal(signum, signal.default_int_handler)

  def guarded(argv):
    try:
      return main(argv)
    except UsageError as e:
      usage_error(e)
    except Failed as e:
      fail(e)
    except Interrupted as e:
      interrupted(e)
    except KeyboardInterrupt:
      interrupted("files are written whole or not at all")
    except ModuleNotFoundError as e:
      missing_package(e)
  try:
    try:
      app.run(guarded, flags_parser=_parse)  # (exits: SystemExit)
    finally:
      sys.stdout.flush()  # a reader gone shows here, not at Python's exit
  except BrokenPipeError:  # while printing (--help and --version too), or at the flush
    _pipe_closed()


def claim_output(held: contextlib.ExitStack, output: str, created: list[str]) -> None:
  """Holds `output` for this job until `held` closes (fastchi_tf.light.locks.claim), then removes
  the folders in `created` that are empty (the claim's file, beside the output, kept them
  from being empty until then). A job already writing `output`: Failed (status 1), and
  nothing removed: the folders this job made may be the ones the other job writes in."""
  with contextlib.ExitStack() as claim:
    try:
      claim.enter_context(locks.claim(output))
    except locks.InUseError as e:
      raise Failed(str(e)) from None
    except OSError as e:
      raise Failed(f"cannot write {output}: {e.strerror or e}") from None
    held.callback(io_utils.remove_empty, created)  # after the claim's release (last in)
    held.push(claim.pop_all())
