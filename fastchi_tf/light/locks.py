"""One job at a time per run folder or output: advisory locks that name their holder.

`hold(path)` takes an flock on the file `path` and writes the holder's pid and program into
it; while it is held, another process gets InUseError naming the holder. The kernel drops
the lock when its holder ends in any way, SIGKILL included, so a dead job never blocks the
next one. The file is removed at release, while still locked: a process that opened it
just before finds, once it gets the lock, that the name no longer leads to its file and
opens the name again, so no two processes ever hold "the" lock at once.

`claim(output)` holds a hidden sibling of an output file or folder (`.out.mp4.lock` beside
`out.mp4`) for a job's life: two jobs writing the same output would both say "wrote" and
one result would be lost. The name comes from the real path, so `link -> out` and `out` are
one claim; a job writing a file also looks at the claim of the folder holding it, and a job
writing a folder at the claims of files in it, so `--output out/` and `--output out/a.jpg`
cannot both run. Each takes its own claim before looking at the other's, so of two jobs
starting at once at least one sees the other.
"""

import contextlib
import errno
import fcntl
import os
import sys
from typing import Iterator

_ATTEMPTS = 100  # each retry means another holder released the file in between
INSIDE = ".fastchi.lock"  # a folder's lock file when its parent cannot be written


class InUseError(RuntimeError):
  """Another process holds the lock. `holder` names it: "fastchi video, pid 123"."""

  def __init__(self, message: str, pid: str, program: str) -> None:
    super().__init__(message)
    self.pid, self.program = pid, program

  @property
  def holder(self) -> str:
    return f"{self.program}, pid {self.pid}" if self.program else f"pid {self.pid}"


def _holder(fd):
  """(pid, program) as the holder wrote them ("unknown" if it has not yet)."""
  text = os.pread(fd, 4096, 0).decode(errors="replace").split("\n")
  return (text[0].strip() or "unknown"), (text[1].strip() if len(text) > 1 else "")


def _same_file(fd, path):
  try:
    st = os.stat(path)
  except FileNotFoundError:
    return False
  mine = os.fstat(fd)
  return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


@contextlib.contextmanager
def hold(path: str, program: str = "") -> Iterator[None]:
  """Holds the lock file `path` (created) for the block; removes it after.

  Raises InUseError if another process holds it (its message names the file and holder;
  callers usually say more), and OSError if the file cannot be created.
  """
  program = program or os.path.basename(sys.argv[0])
  for _ in range(_ATTEMPTS):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      pid, holder = _holder(fd)
      os.close(fd)
      raise InUseError(f"{path} is held by another process (pid {pid})", pid, holder) from None
    except BaseException:
      os.close(fd)
      raise
    if _same_file(fd, path):
      break
    os.close(fd)  # the holder before us removed it after we opened it: open the name again
  else:
    raise InUseError(f"{path} is taken and released too often to hold", "unknown", "")
  try:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n{program}\n".encode(), 0)
    yield
  finally:
    with contextlib.suppress(OSError):
      os.remove(path)  # while held: see the module's docstring
    os.close(fd)  # releases the lock


def claim_path(output: str) -> str:
  """The lock file of `output`: a hidden file named after it, beside it, in the real folder
  (a folder's links resolved: writes go into the folder a link leads to; a file's own link
  is not, as an atomic write replaces the link)."""
  path = os.path.abspath(output)
  if os.path.isdir(path):
    path = os.path.realpath(path)
  parent, name = os.path.split(path)
  return os.path.join(os.path.realpath(parent), f".{name}.lock")


def _peek(path):
  """InUseError if another process holds the lock file `path` (not created if missing)."""
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except BlockingIOError:
    pid, program = _holder(fd)
    return InUseError(f"{path} is held by another process (pid {pid})", pid, program)
  finally:
    os.close(fd)  # releases the shared lock, if taken
  return None


def _others(output, own):
  """The lock files of jobs writing what `output` writes: the folder above a file, or the
  files in a folder."""
  if os.path.isdir(output):
    folder = os.path.realpath(output)
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if name.startswith(".") and name.endswith(".lock") and name != INSIDE
            and os.path.join(folder, name) != own
            and not os.path.isdir(os.path.join(folder, name[1:-len(".lock")]))]
  folder = os.path.dirname(claim_path(output))
  return [p for p in (claim_path(folder), os.path.join(folder, INSIDE)) if p != own]


@contextlib.contextmanager
def claim(output: str, program: str = "") -> Iterator[None]:
  """Holds `output` (a file or folder to write) for the block; raises InUseError naming the
  job that writes it already. Call it once the output's folder exists.

  A folder whose parent cannot be written (an existing --output ., say) is held by a lock
  file inside it instead; every job chooses the same place, as each finds the same parent.
  """
  with contextlib.ExitStack() as stack:
    try:
      _take(stack, claim_path(output), output, program)
    except OSError as e:
      if not (os.path.isdir(output) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS)):
        raise
      own = os.path.join(output, INSIDE)
      _take(stack, own, output, program)
    else:
      own = claim_path(output)
    for path in _others(output, own):
      error = _peek(path)
      if error:
        raise _in_use(output, error)
    yield


def _take(stack, path, output, program):
  try:
    stack.enter_context(hold(path, program))
  except InUseError as e:
    raise _in_use(output, e) from None


def _in_use(output, e):
  return InUseError(f"{output} is being written by another job ({e.holder}); wait for it "
                    "to finish or choose another output", e.pid, e.program)
