"""Flicker of a video, measured as the warping error of Lai et al. (ECCV 2018).

For consecutive frames O_t, O_t+1 and the flow F from input frame t to t+1, O_t+1 is warped
back onto frame t (pixel p of frame t is at p + F(p) in frame t+1) and

    E = mean over t of  sum_p M_t(p) |O_t(p) - O_t+1(p + F(p))|^2 / (3 sum_p M_t(p)),

on RGB in [0, 1]. The mask M drops pixels that leave the frame, occluded pixels and motion
boundaries (the forward-backward consistency check of Sundaram et al. 2010, as Ruder et al.
2016 use it). The flow comes from OpenCV's DIS optical flow on the input frames, so the
input clip's own error is the floor that flow errors set: report the two side by side. On a
synthetic clip whose motion is known, the exact flow replaces the estimate.

Pairs whose input frames differ past a threshold once the flow is accounted for are scene
cuts: skipped and counted.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

# Mean absolute grey-level difference (in [0, 1]) between a frame and the next one warped
# back by the estimated flow, above which the pair is a scene cut rather than motion: flow
# explains motion, so what it leaves is small, but across a cut it explains nothing. On
# scene_cuts.mp4 of the shared data the hard cuts and the fastest motion sit on either side
# with a margin of about 2x; motion too fast for the flow to follow counts as a cut too.
CUT_THRESHOLD = 0.03


@dataclasses.dataclass
class FlickerResult:
  """The warping error of a clip; `error` is the mean over the pairs measured."""
  error: float
  pairs: int  # consecutive pairs measured
  cuts: int  # pairs skipped as scene cuts
  per_pair: List[float]
  masked_fraction: float  # mean share of pixels the mask dropped

  def to_dict(self) -> dict:
    return {"warping_error": self.error, "pairs": self.pairs, "scene_cuts": self.cuts,
            "masked_fraction": self.masked_fraction}


def _grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
  return xs, ys


def warp(image: np.ndarray, flow: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Samples `image` at p + flow(p) (bilinear): (warped float32, inside mask).

  Args:
    image: [h, w, c] or [h, w], any dtype.
    flow: float [h, w, 2] of (dx, dy) in pixels.
  """
  h, w = flow.shape[:2]
  xs, ys = _grid(h, w)
  map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
  warped = cv2.remap(np.asarray(image, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
  inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
  return warped, inside


def estimate_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """DIS optical flow from uint8 RGB frame `a` to `b`: float32 [h, w, 2] (dx, dy)."""
  dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
  gray = [cv2.cvtColor(np.asarray(f, np.uint8), cv2.COLOR_RGB2GRAY) for f in (a, b)]
  return dis.calc(gray[0], gray[1], None)


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
  """Pixels of frame t whose motion is trustworthy: inside frame t+1 after moving, not
  occluded (forward and backward flows cancel) and not on a motion boundary."""
  back_at, inside = warp(backward, forward)
  mismatch = np.sum((forward + back_at) ** 2, axis=-1)
  scale = np.sum(forward ** 2, axis=-1) + np.sum(back_at ** 2, axis=-1)
  consistent = mismatch < 0.01 * scale + 0.5
  dx = np.gradient(backward[..., 0])
  dy = np.gradient(backward[..., 1])
  gradient = sum(g ** 2 for g in (*dx, *dy))
  boundary = gradient > 0.01 * np.sum(backward ** 2, axis=-1) + 0.002
  return inside & consistent & ~boundary


def is_cut(a: np.ndarray, b: np.ndarray, forward: Optional[np.ndarray] = None,
           threshold: float = CUT_THRESHOLD) -> bool:
  """Whether input frames `a` and `b` (uint8 RGB) belong to different shots.

  `forward` is the flow from a to b if already estimated.
  """
  if forward is None:
    forward = estimate_flow(a, b)
  gray = [cv2.cvtColor(np.asarray(f, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
          for f in (a, b)]
  warped, inside = warp(gray[1], forward)
  return not inside.any() or float(np.abs(gray[0] - warped)[inside].mean()) > threshold


def pair_error(out_t: np.ndarray, out_next: np.ndarray, flow: np.ndarray,
               mask: Optional[np.ndarray] = None) -> Tuple[float, float]:
  """(masked mean squared difference of out_t and out_next warped back, share masked)."""
  warped, inside = warp(np.asarray(out_next, np.float32) / 255.0, flow)
  keep = inside if mask is None else inside & mask
  if not keep.any():
    return float("nan"), 1.0
  diff = (np.asarray(out_t, np.float32) / 255.0 - warped) ** 2
  return float(diff[keep].mean()), 1.0 - float(keep.mean())


def _summarize(errors: List[float], masked: List[float], cuts: int) -> FlickerResult:
  valid = [e for e in errors if np.isfinite(e)]
  return FlickerResult(error=float(np.mean(valid)) if valid else float("nan"),
                       pairs=len(valid), cuts=cuts, per_pair=errors,
                       masked_fraction=float(np.mean(masked)) if masked else 0.0)


def warping_error(outputs: Iterable[np.ndarray],
                  inputs: Optional[Iterable[np.ndarray]] = None,
                  flows: Optional[Sequence[np.ndarray]] = None,
                  cut_threshold: float = CUT_THRESHOLD) -> FlickerResult:
  """Warping error of `outputs` (uint8 RGB frames), streamed pair by pair.

  Give either `inputs` (the frames the outputs were made from: flow is estimated on them,
  occlusions masked, scene cuts skipped) or `flows` (exact forward flows, one per pair, for
  synthetic clips: only pixels leaving the frame are masked). To measure an input clip's
  own error, pass it as both `outputs` and `inputs`.
  """
  if (inputs is None) == (flows is None):
    raise ValueError("give either the input frames or the exact flows")
  if inputs is not None:
    return clip_errors(inputs, outputs, cut_threshold)[1]
  errors, masked = [], []
  outputs = iter(outputs)
  previous = next(outputs, None)
  for flow, current in zip(flows, outputs):
    e, m = pair_error(previous, current, np.asarray(flow, np.float32))
    errors.append(e)
    masked.append(m)
    previous = current
  return _summarize(errors, masked, 0)


def clip_errors(input_frames: Iterable[np.ndarray],
                output_frames: Iterable[np.ndarray],
                cut_threshold: float = CUT_THRESHOLD,
                on_pair: Optional[Callable[[int], None]] = None,
                ) -> Tuple[FlickerResult, FlickerResult]:
  """(input clip's own warping error, output clip's), with one flow estimate per pair.

  `on_pair(n)`, if given, is called after the n-th pair (for progress).
  """
  in_err, in_masked, out_err, out_masked, cuts = [], [], [], [], 0
  pairs = zip(input_frames, output_frames)
  first = next(pairs, None)
  if first is None:
    raise ValueError("the clip has no frames")
  prev_in, prev_out = first
  for n, (cur_in, cur_out) in enumerate(pairs, 1):
    if on_pair:
      on_pair(n)
    forward = estimate_flow(prev_in, cur_in)
    if is_cut(prev_in, cur_in, forward, cut_threshold):
      cuts += 1
    else:
      mask = consistency_mask(forward, estimate_flow(cur_in, prev_in))
      for frames, errs, masked in (((prev_in, cur_in), in_err, in_masked),
                                   ((prev_out, cur_out), out_err, out_masked)):
        e, m = pair_error(*frames, forward, mask)
        errs.append(e)
        masked.append(m)
    prev_in, prev_out = cur_in, cur_out
  return _summarize(in_err, in_masked, cuts), _summarize(out_err, out_masked, cuts)


def measure_files(input_path: str, output_path: str, max_frames: Optional[int] = None,
                  on_pair: Optional[Callable[[int], None]] = None) -> dict:
  """Warping errors of a video file and its stylized version, as a JSON-able report."""
  from fastchi_tf import video_io  # Imported here: reading video is optional for this module.
  inputs = video_io.read_frames(video_io.probe(input_path), max_frames)
  outputs = video_io.read_frames(video_io.probe(output_path), max_frames)
  source, output = clip_errors(inputs, outputs, on_pair=on_pair)
  ratio = output.error / source.error if source.error > 0 else float("inf")
  return {"metric": "warping error (Lai et al. 2018): masked mean squared difference of "
                    "consecutive frames after warping by the input's optical flow, RGB in "
                    "[0, 1]; lower is steadier",
          "flow": "OpenCV DIS (medium preset) on the input frames, forward-backward checked",
          "input_path": input_path, "output_path": output_path,
          "input": source.to_dict(), "output": output.to_dict(),
          "output_to_input": ratio}


def synthetic_clip(image: np.ndarray, kind: str, num_frames: int, width: int,
                   height: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
  """(frames, exact forward flows) of a camera motion over `image`.

  kind: "pan" (a steady diagonal move of 2 and 1 pixels per frame: whole pixels, so warping
  a frame onto the next is exact) or "zoom" (a slow zoom in, 1% per frame, about the frame's
  centre; resampling makes even the exact warp differ slightly). Frames are rendered by an
  affine warp of the photo, so the flow between them is known exactly.
  """
  image = np.asarray(image, np.float32)
  ph, pw = image.shape[:2]
  centre_frame = np.array([(width - 1) / 2, (height - 1) / 2], np.float32)
  centre_photo = np.array([(pw - 1) / 2, (ph - 1) / 2], np.float32)
  # Scale so the frame plus the motion stays inside the photo.
  base = max(width / pw, height / ph) * 1.3

  def placement(t):
    if kind == "pan":
      return base, np.array([2.0 * t - num_frames, 1.0 * t - num_frames // 2], np.float32)
    if kind == "zoom":
      return base * 1.01 ** t, np.zeros(2)
    raise ValueError(f"unknown motion {kind!r}; choose pan or zoom")

  frames, flows = [], []
  xs, ys = _grid(height, width)
  pixels = np.stack([xs, ys], axis=-1)
  for t in range(num_frames):
    scale, shift = placement(t)
    # frame pixel p shows photo point centre_photo + (p - centre_frame - shift) / scale
    matrix = np.array([[1 / scale, 0, 0], [0, 1 / scale, 0]], np.float32)
    matrix[:, 2] = centre_photo - (centre_frame + shift) / scale
    frame = cv2.warpAffine(image, matrix, (width, height),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    if t + 1 < num_frames:
      next_scale, next_shift = placement(t + 1)
      photo = (pixels - centre_frame - shift) / scale
      flows.append((centre_frame + next_shift + photo * next_scale - pixels).astype(np.float32))
  return frames, flows

