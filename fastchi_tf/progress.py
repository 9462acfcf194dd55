"""A progress line for long work: count, rate, ETA and a few named values."""

import sys
import time
from typing import Optional, TextIO


def format_duration(seconds: float) -> str:
  seconds = int(max(0, seconds))
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
  """Prints `label done/total [bar] rate unit/s ETA ... values` to stderr.

  On a terminal the line is redrawn in place; otherwise (logs, CI) a line is printed at most
  every `interval` seconds, and always at the end. An `estimate`d total (a video's frame
  count from its duration) is shown as `~total` and never ends the line: `finish` does, with
  the true count.
  """

  def __init__(self, total: int, label: str = "", unit: str = "it", start: int = 0,
               stream: Optional[TextIO] = None, interval: float = 10.0,
               estimate: bool = False) -> None:
    self.total, self.label, self.unit, self.estimate = total, label, unit, estimate
    self.done = self._start = start
    self.stream = stream or sys.stderr
    self.interval = interval
    self._t0 = time.monotonic()
    self._last_print = -float("inf")
    self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

  @property
  def rate(self) -> float:
    elapsed = time.monotonic() - self._t0
    return (self.done - self._start) / elapsed if elapsed > 0 else 0.0

  def update(self, done: int, **values: object) -> None:
    self.done = done
    if self.estimate and done >= self.total:
      self.total = done + 1  # past the estimate and not finished: keep it ahead
    now = time.monotonic()
    final = not self.estimate and done >= self.total
    if not (self._tty or final or now - self._last_print >= self.interval):
      return
    self._last_print = now
    self.stream.write(("\r" if self._tty else "") + self.line(**values) +
                      ("\n" if final or not self._tty else ""))
    self.stream.flush()

  def finish(self, **values: object) -> None:
    """The work is over: what is done is the true total; prints the final line."""
    self.total, self.estimate = self.done, False
    self.update(self.done, **values)

  def line(self, **values: object) -> str:
    rate = self.rate
    eta = (self.total - self.done) / rate if rate > 0 else float("nan")
    filled = int(20 * self.done / max(1, self.total))
    total = f"~{self.total}" if self.estimate else self.total
    parts = [f"{self.label} {self.done}/{total}", "[" + "#" * filled + "." * (20 - filled) + "]",
             f"{rate:.2f} {self.unit}/s",
             f"ETA {format_duration(eta) if eta == eta else '--:--'}"]
    parts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()]
    return " ".join(p for p in parts if p.strip())
