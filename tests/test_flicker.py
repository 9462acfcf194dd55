import numpy as np
import pytest

from fastchi_tf import flicker
from fastchi_tf import samples


def test_warp_by_a_whole_pixel_shift_moves_pixels_exactly(rng):
  image = rng.integers(0, 256, (20, 30, 3)).astype(np.float32)
  flow = np.zeros((20, 30, 2), np.float32)
  flow[..., 0], flow[..., 1] = 3, -2  # pixel p of frame t is at p + (3, -2) in frame t+1
  warped, inside = flicker.warp(image, flow)
  np.testing.assert_array_equal(warped[2:, :-3], image[:-2, 3:])
  assert not inside[:2].any() and not inside[:, -3:].any() and inside[2:, :-3].all()


def test_static_scene_has_zero_error_and_changes_raise_it(rng):
  frame = rng.integers(0, 256, (24, 32, 3), np.uint8)
  zero = [np.zeros((24, 32, 2), np.float32)] * 3
  assert flicker.warping_error([frame] * 4, flows=zero).error == 0.0
  noisy = [np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
           for _ in range(4)]
  result = flicker.warping_error(noisy, flows=zero)
  assert result.error > 1e-4 and result.pairs == 3


def test_consistency_mask_drops_pixels_that_leave_the_frame_and_occlusions():
  forward = np.zeros((20, 30, 2), np.float32)
  forward[..., 0] = 5  # everything moves 5 pixels right: the last 5 columns leave
  mask = flicker.consistency_mask(forward, -forward)
  assert not mask[:, -5:].any() and mask[:, :-5].all()
  occluded = flicker.consistency_mask(forward, np.zeros_like(forward))  # flows disagree
  assert not occluded.any()


@pytest.mark.parametrize("kind", ["pan", "zoom"])
def test_synthetic_motion_comes_with_its_exact_flow(kind):
  photo = samples.read_photo("coffee.png", 200)
  frames, flows = flicker.synthetic_clip(photo, kind, 5, 64, 48)
  assert len(frames) == 5 and len(flows) == 4 and frames[0].shape == (48, 64, 3)
  exact = flicker.warping_error(frames, flows=flows).error
  moved = flicker.warping_error(frames, flows=[np.zeros_like(f) for f in flows]).error
  if kind == "pan":
    np.testing.assert_allclose(flows[0], np.broadcast_to([2.0, 1.0], flows[0].shape), atol=1e-4)
    assert exact < 1e-6 < moved  # whole-pixel moves: the warp is exact up to float rounding
    estimated = flicker.estimate_flow(frames[0], frames[1])
    assert np.abs(estimated - flows[0])[8:-8, 8:-8].mean() < 0.3  # DIS finds it too
  else:  # 1% per frame about the centre: p moves by 0.01 (p - centre)
    corner = np.array([63, 47]) - np.array([31.5, 23.5])
    np.testing.assert_allclose(flows[0][47, 63], 0.01 * corner, atol=1e-3)
    np.testing.assert_allclose(flows[0][23:25, 31:33], 0.0, atol=0.01)
    assert exact < moved


def test_scene_cuts_are_skipped_and_counted_and_flicker_is_seen():
  pan, _ = flicker.synthetic_clip(samples.read_photo("coffee.png", 200), "pan", 4, 64, 48)
  other, _ = flicker.synthetic_clip(samples.read_photo("camera.png", 200), "pan", 4, 64, 48)
  frames = pan + other
  steady, _ = flicker.clip_errors(frames, frames)
  assert steady.cuts == 1 and steady.pairs == 6
  rng = np.random.default_rng(1)
  flickering = [np.clip(f + rng.normal(0, 10, f.shape), 0, 255).astype(np.uint8)
                for f in frames]
  source, output = flicker.clip_errors(frames, flickering)
  assert source.error == pytest.approx(steady.error)
  assert output.error > 5 * source.error and output.cuts == 1
  with pytest.raises(ValueError, match="either the input frames or the exact flows"):
    flicker.warping_error(frames)
