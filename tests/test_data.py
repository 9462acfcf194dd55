import logging
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fastchi_tf import data


@pytest.fixture
def mixed_folder(tmp_path, rng):
  """One file of every kind training meets: modes, bit depths, and broken files."""
  Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(tmp_path / "rgb.jpg")
  Image.fromarray(rng.integers(0, 255, (30, 40), np.uint8)).save(tmp_path / "gray.png")
  Image.fromarray(rng.integers(0, 255, (30, 40, 4), np.uint8)).save(tmp_path / "rgba.png")
  Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).convert("P").save(
      tmp_path / "palette.png")
  sixteen = rng.integers(0, 65535, (30, 40, 3)).astype(np.uint16)
  tf.io.write_file(str(tmp_path / "deep.png"), tf.io.encode_png(sixteen))
  (tmp_path / "sub").mkdir()
  Image.fromarray(rng.integers(0, 255, (50, 20, 3), np.uint8)).save(tmp_path / "sub/b.bmp")
  (tmp_path / "notes.txt").write_text("not an image, not listed")
  (tmp_path / "bad.png").write_bytes(b"not a png")
  (tmp_path / "empty.jpg").write_bytes(b"")
  good = (tmp_path / "gray.png").read_bytes()
  (tmp_path / "truncated.png").write_bytes(good[:len(good) // 3])
  return tmp_path, sixteen


def test_list_images_is_recursive_sorted_and_filters_extensions(mixed_folder):
  folder, _ = mixed_folder
  names = [p[len(str(folder)) + 1:] for p in data.list_images(str(folder))]
  assert names == ["bad.png", "deep.png", "empty.jpg", "gray.png", "palette.png", "rgb.jpg",
                   "rgba.png", "truncated.png", "sub/b.bmp"]


@pytest.mark.parametrize("name", ["gray.png", "rgba.png", "palette.png", "rgb.jpg", "sub/b.bmp"])
def test_every_mode_decodes_to_uint8_rgb(mixed_folder, name):
  folder, _ = mixed_folder
  image = data.read_image(str(folder / name))
  assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_sixteen_bit_png_is_scaled_not_wrapped(mixed_folder):
  folder, sixteen = mixed_folder
  image = data.read_image(str(folder / "deep.png"))
  np.testing.assert_allclose(image, sixteen / 257.0, atol=0.51)


@pytest.mark.parametrize("name,match", [("bad.png", "Unknown image file format"),
                                        ("empty.jpg", "empty"), ("truncated.png", "")])
def test_broken_files_raise_a_named_error(mixed_folder, name, match):
  folder, _ = mixed_folder
  with pytest.raises(data.DataError, match=f"{name}.*{match}"):
    data.read_image(str(folder / name))


def test_pipeline_skips_broken_files_by_name_and_goes_on(mixed_folder):
  folder, _ = mixed_folder
  files = data.list_images(str(folder))
  counter = data.SkipCounter()
  batches = list(data.folder_dataset(files, image_size=24, global_batch=3, seed=1,
                                     counter=counter).take(9))
  assert all(b.shape == (3, 24, 24, 3) and b.dtype == tf.float32 for b in batches)
  assert all(0 <= b.numpy().min() and b.numpy().max() <= 255 for b in batches)
  assert {p.split("/")[-1] for p in counter.skipped} == {"bad.png", "empty.jpg",
                                                         "truncated.png"}


def test_skipped_files_are_one_summary_line_not_a_warning_each(mixed_folder, caplog):
  folder, _ = mixed_folder
  files = data.list_images(str(folder))
  counter = data.SkipCounter()
  with caplog.at_level(logging.INFO):
    assert data.first_decodable(files, counter) == 1  # bad.png comes first
    list(data.folder_dataset(files, image_size=24, global_batch=3, seed=1, counter=counter,
                             fallback=files[1]).take(9))
  assert not caplog.records  # (absl's "W1206 ... skipping undecodable training image" each)
  assert re.fullmatch(r"skipped 3 undecodable training images: \S+/bad\.png, "
                      r"\S+/(empty\.jpg|truncated\.png), \S+/(empty\.jpg|truncated\.png)",
                      counter.summary()), counter.summary()
  many = data.SkipCounter()
  for name in "abcde":
    many.add(f"{name}.png")
  assert many.summary() == "skipped 5 undecodable training images: a.png, b.png, c.png and 2 more"
  one = data.SkipCounter()
  one.add("a.png")
  assert one.summary() == "skipped 1 undecodable training image: a.png"


def test_training_images_and_style_images_with_a_colour_profile_are_read_in_srgb(tmp_path):
  # tf.io reads every file as if sRGB; a phone's Display P3 photo lost its saturation.
  from test_image_io import DISPLAY_P3, icc_profile, srgb_of  # (the test's own profile)
  icc = icc_profile(DISPLAY_P3, "Display P3 (test)")
  red = (235, 30, 25)
  Image.new("RGB", (40, 30), red).save(tmp_path / "p3.png", icc_profile=icc)
  Image.new("RGB", (40, 30), red).save(tmp_path / "plain.png")
  expected = srgb_of(red, icc)
  assert (data.read_image(str(tmp_path / "p3.png")) == expected).all()
  assert (data.read_image(str(tmp_path / "plain.png")) == red).all()
  files = data.list_images(str(tmp_path))  # p3.png, plain.png
  crops = next(iter(data.folder_dataset(files, image_size=8, global_batch=2, seed=0)))
  colours = {tuple(np.round(c.numpy().reshape(-1, 3).mean(0)).astype(int)) for c in crops}
  assert colours == {tuple(int(v) for v in expected), red}


def test_resuming_at_a_step_replays_the_same_batches(mixed_folder):
  folder, _ = mixed_folder
  files = data.list_images(str(folder))
  pipeline = dict(image_size=16, global_batch=2, seed=3)
  whole = [b.numpy() for b in data.folder_dataset(files, **pipeline).take(12)]
  resumed = [b.numpy() for b in data.folder_dataset(files, **pipeline, start_step=7).take(5)]
  for a, b in zip(whole[7:], resumed):
    np.testing.assert_array_equal(a, b)
  other_seed = next(iter(data.folder_dataset(files, **{**pipeline, "seed": 4}))).numpy()
  assert not np.array_equal(other_seed, whole[0])


def test_epochs_visit_every_file_once(tmp_path, rng):
  for i in range(5):  # each image a distinct flat colour
    Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
  files = data.list_images(str(tmp_path))
  colours = [b.numpy()[0, 0, 0, 0]
             for b in data.folder_dataset(files, image_size=8, global_batch=1).take(10)]
  assert sorted(colours[:5]) == sorted(colours[5:]) == [0, 40, 80, 120, 160]


def test_sharding_splits_elements_between_pipelines(tmp_path):
  for i in range(8):
    Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(tmp_path / f"{i}.png")
  files = data.list_images(str(tmp_path))
  one = np.concatenate([b.numpy()[:, 0, 0, 0]
                        for b in data.folder_dataset(files, image_size=8, global_batch=4).take(2)])
  shards = []
  for pipeline in range(2):
    ctx = tf.distribute.InputContext(2, pipeline, 2)
    shards.append(np.concatenate(
        [b.numpy()[:, 0, 0, 0] for b in data.folder_dataset(
            files, image_size=8, global_batch=4, input_context=ctx).take(2)]))
  np.testing.assert_array_equal(np.sort(np.concatenate(shards)), np.sort(one))
  np.testing.assert_array_equal(shards[0], one[0::2])


def test_random_square_crop_eagerly_and_in_dataset_map(rng):
  image = rng.integers(0, 255, (30, 50, 3), np.uint8)
  seed = tf.constant([1, 2], tf.int64)
  eager = data.random_square_crop(image, 20, seed)
  mapped = next(iter(tf.data.Dataset.from_tensors(image).map(
      lambda x: data.random_square_crop(x, 20, seed))))
  assert eager.shape == (20, 20, 3)
  np.testing.assert_allclose(eager, mapped, atol=1e-4)


def test_empty_or_missing_folders_are_rejected(tmp_path):
  with pytest.raises(data.DataError, match="not found"):
    data.list_images(str(tmp_path / "missing"))
  (tmp_path / "a.jpg").write_bytes(b"")
  with pytest.raises(data.DataError, match="a.jpg is a file, not a folder"):
    data.list_images(str(tmp_path / "a.jpg"))
  os.remove(tmp_path / "a.jpg")
  with pytest.raises(data.DataError, match="no images"):
    data.list_images(str(tmp_path))
  (tmp_path / "x.png").write_bytes(b"junk")
  with pytest.raises(data.DataError, match="none of the 1 image files decodes"):
    data.first_decodable(data.list_images(str(tmp_path)))


def test_unknown_tfds_name_is_rejected_offline():
  with pytest.raises(data.DataError, match="unknown tensorflow-datasets dataset 'no_such_ds/2014'"):
    data.check_tfds_name("no_such_ds/2014")
  data.check_tfds_name("coco/2014")


def test_inputs_are_identified_by_content_not_path(tmp_path_factory, mixed_folder):
  folder, _ = mixed_folder
  files = data.list_images(str(folder))
  digest = data.files_sha256(str(folder), files)
  elsewhere = tmp_path_factory.mktemp("elsewhere")
  moved = str(elsewhere / "moved")
  shutil.copytree(folder, moved)
  assert data.files_sha256(moved, data.list_images(moved)) == digest
  (elsewhere / "moved" / "sub" / "more.png").write_bytes(b"x")  # another file: another stream
  assert data.files_sha256(moved, data.list_images(moved)) != digest
  style = str(folder / "rgb.jpg")
  copy = str(elsewhere / "copy.jpg")
  shutil.copy(style, copy)
  assert data.file_sha256(copy) == data.file_sha256(style)
  Image.open(copy).rotate(90).save(copy)
  assert data.file_sha256(copy) != data.file_sha256(style)


def test_the_draw_is_balanced_and_a_function_of_seed_and_step_only():
  total, num = 4, 3
  drawn = np.concatenate([data.draw_styles(7, step, total, num).numpy() for step in range(6)])
  # Every run of `num` consecutive global examples from a cycle start holds each style once.
  for start in range(0, len(drawn) - num + 1, num):
    assert sorted(drawn[start:start + num]) == list(range(num))
  again = np.concatenate([data.draw_styles(7, step, total, num).numpy() for step in range(6)])
  np.testing.assert_array_equal(drawn, again)
  other = np.concatenate([data.draw_styles(8, step, total, num).numpy() for step in range(6)])
  assert not np.array_equal(drawn, other)
