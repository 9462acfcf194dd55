"""Style files, style choices and the training draw (fastchi_tf/light/styles.py)."""

import numpy as np
import pytest

from fastchi_tf.light import styles


def _touch(path):
  path.write_bytes(b"x")
  return str(path)


def test_style_files_takes_files_and_folders_and_names_them_by_stem(tmp_path):
  folder = tmp_path / "paintings"
  folder.mkdir()
  for name in ("wave.jpg", "udnie.png", "notes.txt"):
    _touch(folder / name)
  single = _touch(tmp_path / "scream.jpg")
  files = styles.style_files(f"{single}, {folder}")
  assert [styles.style_name(f) for f in files] == ["scream", "udnie", "wave"]
  assert styles.style_files(single) == [single]


@pytest.mark.parametrize("spec,match", [
    ("missing.jpg", "style image not found: missing.jpg"),
    ("empty", "style folder empty holds no images"),
    ("a.jpg,other/a.png", "two style images are named 'a'"),
    (",", "--style_image is required"),
])
def test_style_files_names_what_is_wrong(tmp_path, monkeypatch, spec, match):
  monkeypatch.chdir(tmp_path)
  (tmp_path / "empty").mkdir()
  (tmp_path / "other").mkdir()
  _touch(tmp_path / "a.jpg")
  _touch(tmp_path / "other" / "a.png")
  with pytest.raises(ValueError, match=match):
    styles.style_files(spec)


NAMES = ("starry_night", "wave", "udnie")


@pytest.mark.parametrize("spec,expected", [
    ("wave", [0, 1, 0]),
    ("2", [0, 0, 1]),
    ("starry_night:3,udnie:1", [0.75, 0, 0.25]),
    ("0:1,wave:1", [0.5, 0.5, 0]),
    ("wave:0.2,wave:0.2", [0, 1, 0]),  # repeated: weights add up
    ("1.0, 0, 3", [0.25, 0, 0.75]),  # a vector of N weights: a decimal says so
    ("0,2", [0.5, 0, 0.5]),  # indices alone: an equal mix, as names are
    ("1,0", [0.5, 0.5, 0]),  # (was the vector [1, 0], style 0 alone, on a 2-style model)
    ("0.5,0.5,0", [0.5, 0.5, 0]),
    ("starry_night,udnie", [0.5, 0, 0.5]),  # names without weights: an equal mix
    ("wave,udnie,0", [1 / 3, 1 / 3, 1 / 3]),  # names and indices alike
    ("wave,wave,udnie", [0, 2 / 3, 1 / 3]),  # repeated: each counts
])
def test_a_choice_is_a_normalized_weight_vector(spec, expected):
  np.testing.assert_allclose(styles.parse_choice(spec, NAMES), expected, rtol=1e-6)


@pytest.mark.parametrize("spec,match", [
    ("mona_lisa", "unknown style 'mona_lisa'; the model's styles are 0:starry_night"),
    ("3", "style index 3 is out of range: the model has 3 styles"),
    ("-1", "style index -1 is out of range"),
    ("wave:-0.5,udnie:1", "weights must be non-negative"),
    ("wave:0,udnie:0", "the weights are all zero"),
    ("wave:abc", "'abc' is not a number"),
    ("wave:nan", "non-negative numbers"),
    ("0.5,0.5", "2 weights for a model of 3 styles"),
    ("wave,moon", "unknown style 'moon'"),
    ("1.0,-1,1", "non-negative"),
    ("0.0,0,0", "the weights are all zero"),
    ("2,-1", "style index -1 is out of range"),
    ("1,0,0", "names an index twice: integers alone are an equal mix"),
    ("0,5", "style index 5 is out of range"),
    ("wave:0", "--style 'wave:0': the weights are all zero"),
    ("wave:1,udnie", "give every style a weight .name:weight. or none"),
    ("wave,", "has an empty item"),
    (":0.5", "':0.5' names no style"),
])
def test_a_bad_choice_names_the_problem_and_the_accepted_forms(spec, match):
  with pytest.raises(ValueError, match=match) as e:
    styles.parse_choice(spec, NAMES)
  assert str(e.value).endswith(styles.accepted_forms(len(NAMES)))
  assert "(starry_night,wave; indices too: 0,5)" in str(e.value)
  assert "in decimals (3 numbers, e.g. 0.5,0.5,0)" in str(e.value)


def test_names_without_weights_are_the_equal_mix_with_weights():
  np.testing.assert_array_equal(styles.parse_choice("starry_night,wave", NAMES),
                                styles.parse_choice("starry_night:0.5,wave:0.5", NAMES))


def test_a_single_style_model_needs_no_choice_and_a_multi_style_one_does():
  np.testing.assert_array_equal(styles.weights_vector("", ()), [1.0])
  np.testing.assert_array_equal(styles.weights_vector("0", ()), [1.0])
  with pytest.raises(ValueError, match="has a single style"):
    styles.weights_vector("wave", ())
  with pytest.raises(ValueError, match="the model has 3 styles; choose one with --style"):
    styles.weights_vector("", NAMES)


def test_huge_weights_mix_without_overflowing():
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # an overflow warning fails the test
    np.testing.assert_allclose(styles.parse_choice("wave:1e308,udnie:1e308", NAMES),
                               [0, 0.5, 0.5])
