"""Atomic file writes (outputs appear whole or not at all, even on an error or Ctrl-C),
quiet_stderr for the C++ lines that bypass Python, and writes to a standard output whose
reader may go away (write_stdout)."""

import array
import contextlib
import errno
import os
import select
import sys
import tempfile
import threading
from typing import Iterable, Iterator, Sequence


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path`; renames it to `path` only on success.

  The temporary name keeps the extension, so writers that pick a format from it work.
  """
  directory = os.path.dirname(os.path.abspath(path))
  base, ext = os.path.splitext(os.path.basename(path))
  fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=directory)
  os.close(fd)
  try:
    yield tmp
    if os.path.isfile(tmp):
      os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the usual permissions
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def _read_umask():
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


# Read once at import: os.umask can only be read by setting it, which races with threads.
UMASK = _read_umask()


def make_parents(path: str) -> list[str]:
  """Creates the missing folders above `path`; returns them, outermost first."""
  created, folder = [], os.path.dirname(os.path.abspath(path))
  while not os.path.isdir(folder):
    created.insert(0, folder)
    folder = os.path.dirname(folder)
  for folder in created:
    os.makedirs(folder, exist_ok=True)
  return created


def remove_empty(folders: Sequence[str]) -> None:
  """Removes the folders `make_parents` created, innermost first, if they are still empty."""
  for folder in reversed(folders):
    with contextlib.suppress(OSError):
      os.rmdir(folder)


def write_text(path: str, text: str) -> None:
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)


class OverwriteError(ValueError):
  """An output that is, or would replace, one of the run's inputs."""


def _identity(path):
  try:
    st = os.stat(path)  # follows links: a link to the input is the input
  except OSError:
    return None
  return st.st_dev, st.st_ino


def check_not_inputs(outputs: Iterable[str], inputs: Iterable[str]) -> None:
  """Refuses outputs that are one of `inputs`, however spelled.

  The operating system decides sameness (device and inode), so symbolic and hard links,
  '..' and case-insensitive file systems are all caught; comparing path strings is not.
  """
  known = {}
  for path in inputs:
    ident = _identity(path)
    if ident:
      known[ident] = path
  for path in outputs:
    ident = _identity(path)
    if ident in known:
      raise OverwriteError(f"output {path} would overwrite its input {known[ident]} "
                           "(the same file); choose another output")


def is_within(path: str, folder: str) -> bool:
  """True if `path` is `folder` or lies inside it, as the file system resolves them."""
  target = _identity(folder)
  if target is None:
    return False
  current = os.path.realpath(path)
  while True:
    if _identity(current) == target:
      return True
    parent = os.path.dirname(current)
    if parent == current:
      return False
    current = parent


def check_writable_folder(folder: str) -> None:
  """Raises ValueError naming `folder` if files cannot be created in it.

  A real probe (create and delete a file), because permission bits lie for root and on
  read-only mounts.
  """
  folder = folder or "."
  if not os.path.isdir(folder):
    raise ValueError(f"{folder} is not a folder" if os.path.exists(folder)
                     else f"folder {folder} does not exist")
  try:
    fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
  except OSError as e:
    reason = e.strerror
    if e.errno == errno.ENOENT and os.path.isdir(folder):  # /proc, /sys: "No such file"
      kind = _file_system(folder)
      reason = "no file can be created there" + (f" (a {kind} file system, made by the "
                                                   "kernel)" if kind else "")
    raise ValueError(f"cannot write to {folder}: {reason}") from None
  os.close(fd)
  os.remove(probe)


def _file_system(folder):
  """The type of the file system holding `folder` ("proc"), from /proc/self/mounts; None
  where that cannot be read."""
  folder, best = os.path.realpath(folder), (-1, None)
  try:
    with open("/proc/self/mounts") as f:
      for line in f:
        fields = line.split()
        if len(fields) > 2:
          point = fields[1].replace("\\040", " ")
          if (folder == point or folder.startswith(point.rstrip("/") + "/")) and \
              len(point) > best[0]:
            best = (len(point), fields[2])
  except OSError:
    return None
  return best[1]


def existing_ancestor(path: str) -> str:
  """The nearest folder above `path` (or `path` itself) that exists."""
  existing = os.path.abspath(path)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  return existing


def _check_creatable(target: str, what: str) -> None:
  """Raises ValueError unless the missing folders up to `target` can be made and written."""
  existing = existing_ancestor(target)
  if not os.path.isdir(existing):
    raise ValueError(f"{what}: {existing} is a file, not a folder")
  check_writable_folder(existing)


def prepare_output(path: str) -> list[str]:
  """Checks that `path` can be written, creating its missing parent folders.

  Returns the folders it created (outermost first) so a failed run can remove them with
  `remove_empty`. Every tool creates a missing output folder, like `mkdir -p`.
  """
  if os.path.isdir(path):
    raise ValueError(f"output {path} is a folder; give a file name")
  _check_creatable(os.path.dirname(os.path.abspath(path)), f"cannot write {path}")
  return make_parents(path)


def prepare_folder(folder: str) -> list[str]:
  """Checks that files can be written in `folder`, creating it (and its parents) if missing.

  Returns the folders it created, outermost first, for `remove_empty`.
  """
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise ValueError(f"{folder} is a file, not a folder")
  _check_creatable(folder, f"cannot create {folder}")
  return make_parents(os.path.join(folder, "_"))


_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_fd2 = None


@contextlib.contextmanager
def quiet_stderr():
  """Sends file descriptor 2 to /dev/null: C++ lines (TensorFlow's start, LiteRT's delegate)
  bypass Python. Threads may nest it: the first in redirects, the last out restores."""
  global _quiet_depth, _saved_fd2
  with _quiet_lock:
    if _quiet_depth == 0:
      sys.stderr.flush()
      _saved_fd2 = os.dup(2)
      devnull = os.open(os.devnull, os.O_WRONLY)
      os.dup2(devnull, 2)
      os.close(devnull)
    _quiet_depth += 1
  try:
    yield
  finally:
    with _quiet_lock:
      _quiet_depth -= 1
      if _quiet_depth == 0:
        os.dup2(_saved_fd2, 2)
        os.close(_saved_fd2)


class StdoutClosedError(BrokenPipeError):
  """Standard output's reader went away before it read everything (`... | head -c 10`)."""

  def __init__(self):
    super().__init__(errno.EPIPE, "standard output was closed before everything written to "
                     "it was read (its reader, such as head, stopped early)")

  def __str__(self):
    return self.strerror


def write_stdout(data: bytes) -> None:
  """Writes `data` whole to standard output (file descriptor 1, after Python's buffers).

  Raises StdoutClosedError when the reader closes its end first: on the write that finds
  it gone, or after the last write when the pipe keeps bytes nobody will read. Standard
  output then points at /dev/null, so that Python's own flush at exit prints no traceback
  of its own: the caller says it in one line.
  """
  sys.stdout.flush()
  fd = sys.stdout.fileno()
  view = memoryview(data)
  try:
    while view:  # os.write may write part: a pipe takes what fits before its reader goes
      view = view[os.write(fd, view):]
    if not _reader_gone_leaving_bytes(fd):
      return
  except BrokenPipeError:
    pass
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, fd)
  os.close(devnull)
  raise StdoutClosedError()


def _reader_gone_leaving_bytes(fd):
  """Whether `fd` is a pipe or socket whose reader closed it with bytes unread (a reader that
  read all and stopped, as `head -c SIZE` does, is no error)."""
  if not hasattr(select, "poll"):  # (Windows: only the failed write tells)
    return False
  import fcntl  # pylint: disable=g-import-not-at-top (POSIX only)
  import termios  # pylint: disable=g-import-not-at-top
  poll = select.poll()
  poll.register(fd, select.POLLOUT)
  if not any(events & select.POLLERR for _, events in poll.poll(0)):
    return False
  unread = array.array("i", [0])
  try:
    fcntl.ioctl(fd, termios.FIONREAD, unread)
  except OSError:
    return True  # (not a pipe: the error itself is the answer)
  return unread[0] > 0
