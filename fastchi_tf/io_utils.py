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
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def write_text(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)
