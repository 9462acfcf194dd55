"""Atomic file writes: outputs appear whole or not at all, even on an error or Ctrl-C."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
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
      os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
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
_UMASK = _read_umask()


def make_parents(path):
  """Creates the missing folders above `path`; returns them, outermost first."""
  created, folder = [], os.path.dirname(os.path.abspath(path))
  while not os.path.isdir(folder):
    created.insert(0, folder)
    folder = os.path.dirname(folder)
  for folder in created:
    os.makedirs(folder, exist_ok=True)
  return created


def remove_empty(folders):
  """Removes the folders `make_parents` created, innermost first, if they are still empty."""
  for folder in reversed(folders):
    with contextlib.suppress(OSError):
      os.rmdir(folder)


def write_text(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)
