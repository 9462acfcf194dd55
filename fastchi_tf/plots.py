"""Figures written as PNG: loss curves and image grids."""

import csv
from typing import Dict, Mapping, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # No display on servers and CI.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fastchi_tf.light import io_utils  # noqa: E402


def read_loss_log(path: str) -> Dict[str, np.ndarray]:
  """{column: np.array} from a losses.csv written by training."""
  with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
  if not rows:
    return {}
  return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def plot_loss_curves(log: Mapping[str, np.ndarray], path: str, title: str = "Training loss",
                     terms: Sequence[str] = ("total", "content", "style", "tv", "temporal")
                     ) -> None:
  """Writes one log-scale panel per loss term of `log` ({"step": ..., term: ...}) to `path`."""
  terms = [t for t in terms if t in log]
  if not terms:  # nothing logged yet: no figure rather than an empty one
    return
  fig, axes = plt.subplots(1, len(terms), figsize=(3.2 * len(terms), 3.0), squeeze=False)
  for ax, term in zip(axes[0], terms):
    values = log[term]
    ax.plot(log["step"], values, lw=0.8, alpha=0.4, color="C0")
    if len(values) >= 10:  # a moving average reads better than noisy per-step values
      k = max(2, len(values) // 20)
      smooth = np.convolve(values, np.ones(k) / k, mode="valid")
      ax.plot(log["step"][k - 1:], smooth, lw=1.5, color="C1")
    if np.all(values > 0):
      ax.set_yscale("log")
    ax.set_title(term)
    ax.set_xlabel("step")
  fig.suptitle(title)
  fig.tight_layout()
  save_figure(fig, path)


def image_grid(rows: Sequence[Sequence[np.ndarray]], path: str,
               row_labels: Optional[Sequence[str]] = None,
               col_labels: Optional[Sequence[str]] = None, scale: float = 2.0) -> None:
  """Writes a grid of uint8 or [0, 255] float images (rows of equal length) to `path`.

  Each row is as tall as its first image's shape asks at the cells' width, so wide video
  frames are not set in square cells with bands of white between the rows."""
  n_rows, n_cols = len(rows), max(len(r) for r in rows)
  aspects = [np.asarray(r[0]).shape[0] / np.asarray(r[0]).shape[1] if len(r) else 1.0
             for r in rows]
  fig, axes = plt.subplots(n_rows, n_cols, figsize=(scale * n_cols, scale * sum(aspects)),
                           squeeze=False, gridspec_kw={"height_ratios": aspects})
  for i, row in enumerate(rows):
    for j in range(n_cols):
      ax = axes[i][j]
      ax.set_xticks([])
      ax.set_yticks([])
      if j < len(row):
        ax.imshow(np.clip(np.asarray(row[j]), 0, 255).astype(np.uint8))
      if col_labels and i == 0:
        ax.set_title(col_labels[j], fontsize=9)
      if row_labels and j == 0:
        ax.set_ylabel(row_labels[i], fontsize=9)
  fig.tight_layout()
  save_figure(fig, path)


def save_figure(fig: plt.Figure, path: str) -> None:
  with io_utils.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=100)
  plt.close(fig)


def labelled_rows(rows: Sequence[Sequence[Tuple[np.ndarray, str]]], path: str,
                  scale: float = 2.5, title: Optional[str] = None) -> None:
  """Writes rows of (uint8 image, caption) to `path` as one PNG, each image captioned."""
  n_rows, n_cols = len(rows), max(len(r) for r in rows)
  aspect = rows[0][0][0].shape[0] / rows[0][0][0].shape[1]
  fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                           figsize=(scale * n_cols, scale * aspect * n_rows + 0.4 * n_rows))
  for i, row in enumerate(rows):
    for j in range(n_cols):
      ax = axes[i][j]
      ax.axis("off")
      if j < len(row):
        image, caption = row[j]
        ax.imshow(np.asarray(image, np.uint8))
        ax.set_title(caption, fontsize=9)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  save_figure(fig, path)
