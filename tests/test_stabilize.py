"""The flow-guided blend of stylized frames: steadier where the scene is, and it follows the
motion rather than smearing it."""

import numpy as np
import pytest
from skimage import data as skdata
from skimage import transform

from fastchi_tf import flicker
from fastchi_tf import stabilize


@pytest.fixture(scope="module")
def photo():
  image = transform.resize(skdata.chelsea(), (150, 225), anti_aliasing=True)
  return np.round(image * 255).astype(np.uint8)


def _styled(frame):
  """A stand-in network whose output follows the content: the frame's colours inverted."""
  return 255.0 - frame.astype(np.float32)


def _noisy(frames, seed=0, sigma=20.0):
  """The stand-in's output with noise that differs in every frame: flicker."""
  rng = np.random.default_rng(seed)
  return [np.clip(np.round(_styled(f) + rng.normal(0.0, sigma, f.shape)), 0, 255
                  ).astype(np.uint8) for f in frames]


def _run(stabilizer, frames, outputs):
  return [stabilizer(f, o) for f, o in zip(frames, outputs)]


def _distance_to_clean(frames, outputs, skip=3):
  return float(np.mean([np.abs(o.astype(np.float32) - _styled(f)).mean()
                        for f, o in zip(frames[skip:], outputs[skip:])]))


def test_a_still_scene_settles(photo):
  frames = [photo[:64, :96]] * 10
  raw = _noisy(frames)
  steady = _run(stabilize.Stabilizer(0.6), frames, raw)
  change = lambda outs: np.mean([np.abs(b.astype(float) - a).mean()  # noqa: E731
                                 for a, b in zip(outs, outs[1:])])
  assert change(steady) < 0.6 * change(raw)
  # The average of several noisy frames is nearer the clean output than any one frame.
  assert _distance_to_clean(frames, steady) < 0.75 * _distance_to_clean(frames, raw)


def _pan(photo, width, height):
  """A stabilized pan: (frames, noisy outputs, stabilized outputs, ratio of their warping
  errors under the exact flow, ratio of their distances to the clean output)."""
  frames, flows = flicker.synthetic_clip(photo, "pan", 10, width, height)
  raw = _noisy(frames)
  steady = _run(stabilize.Stabilizer(0.6), frames, raw)
  error = lambda outs: flicker.warping_error(outs, flows=flows).error  # noqa: E731
  return (frames, raw, steady, error(steady) / error(raw),
          _distance_to_clean(frames, steady) / _distance_to_clean(frames, raw))


def test_a_pan_is_followed_not_smeared(photo):
  frames, raw, steady, error, distance = _pan(photo, 96, 64)
  assert error < 0.6 and distance < 0.8
  # Blending without the flow (the previous output where it was) trails the motion: further
  # from the clean output than the noisy frames themselves.
  naive = [raw[0]]
  for out in raw[1:]:
    naive.append(np.round(0.4 * out + 0.6 * naive[-1].astype(np.float32)).astype(np.uint8))
  assert _distance_to_clean(frames, naive) > _distance_to_clean(frames, steady)


def test_flows_on_scaled_down_frames_still_follow_the_pan(photo, monkeypatch):
  # Big frames have their flows estimated smaller and scaled back up (FLOW_SIDE).
  monkeypatch.setattr(stabilize, "FLOW_SIDE", 64)
  _, _, _, error, distance = _pan(photo, 128, 96)
  # (0.18 and 0.54 here; with the flow left at the small frames' scale, 0.33 and 0.67.)
  assert error < 0.25 and distance < 0.6


def test_what_the_flow_cannot_explain_takes_the_new_frame(photo):
  # A still scene into which a grey square appears: the previous output there shows the
  # background, and carrying it over would leave a ghost of it on the square.
  still = photo[:64, :96]
  appeared = still.copy()
  appeared[20:44, 30:60] = 128
  frames = [still] * 4 + [appeared]
  raw = _noisy(frames)
  steady = _run(stabilize.Stabilizer(0.6), frames, raw)
  inside = (slice(24, 40), slice(34, 56))  # away from the blend's soft edge
  ghost = np.abs(steady[-1][inside].astype(float) - raw[-1][inside]).mean()
  assert ghost < 3.0
  # Elsewhere the still background keeps blending.
  assert np.abs(steady[-1][:16].astype(float) - raw[-1][:16]).mean() > 5.0


def test_a_scene_cut_starts_afresh(photo):
  a, b = photo[:64, :96], photo[80:144, 120:216]
  frames = [a, a, b, b]
  raw = _noisy(frames)
  stabilizer = stabilize.Stabilizer(0.6)
  steady = _run(stabilizer, frames, raw)
  np.testing.assert_array_equal(steady[2], raw[2])
  assert not np.array_equal(steady[1], raw[1]) and not np.array_equal(steady[3], raw[3])
  assert stabilizer.cuts == 1
  # A frame of another size starts afresh too, rather than failing.
  other = photo[:48, :80]
  np.testing.assert_array_equal(stabilizer(other, _noisy([other])[0]), _noisy([other])[0])


def test_strength_zero_writes_the_frames_as_stylized_and_bad_values_are_refused(photo):
  frames = [photo[:32, :48]] * 3
  raw = _noisy(frames)
  for got, want in zip(_run(stabilize.Stabilizer(0.0), frames, raw), raw):
    np.testing.assert_array_equal(got, want)
  for strength in (1.0, -0.1):
    with pytest.raises(ValueError, match="stabilize strength"):
      stabilize.Stabilizer(strength)
  with pytest.raises(ValueError, match="differ in size"):
    stabilize.Stabilizer(0.5)(frames[0], raw[0][:16])
