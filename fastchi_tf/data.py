"""tf.data input pipelines for training (FastChi's multi-process reader queue, done right).

A folder's pipeline is a pure function of (seed, element index): element i of the stream is
the (i mod n)-th file of epoch (i div n)'s seeded permutation, cropped with a seed derived
from i. A run that resumes at step s therefore starts at element s * global_batch and sees
exactly the images an uninterrupted run would have seen, with no iterator state to save.
"""

import hashlib
import io
import os
import threading
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image
import tensorflow as tf

from fastchi_tf.light import image_io

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


class DataError(ValueError):
  """Training data that cannot be used (missing, empty, undecodable)."""


def list_images(folder: str) -> List[str]:
  """Sorted image files under `folder`, searched recursively."""
  if not os.path.exists(folder):
    raise DataError(f"training data folder not found: {folder}")
  if not os.path.isdir(folder):
    raise DataError(f"training data {folder} is a file, not a folder")
  files = []
  for root, dirs, names in os.walk(folder):
    dirs.sort()
    files += [os.path.join(root, n) for n in sorted(names)
              if n.lower().endswith(IMAGE_EXTENSIONS)]
  if not files:
    raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
  return files


def file_sha256(path: str) -> str:
  """Hex sha256 of a file's bytes: identifies an input by content, wherever it lies."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def files_sha256(folder: str, files: Sequence[str]) -> str:
  """Hex sha256 of `files`' names relative to `folder` and their sizes, in order.

  Cheap enough for COCO's 83k files (no file is read), and enough to tell the training stream
  changed: it is a function of the file list. A moved folder keeps its digest; a file edited
  in place to the same size does not change it.
  """
  digest = hashlib.sha256()
  for path in files:
    name = os.path.relpath(path, folder).replace(os.sep, "/")
    digest.update(f"{name}\t{os.path.getsize(path)}\n".encode())
  return digest.hexdigest()


def decode_rgb(contents: tf.Tensor) -> tf.Tensor:
  """Encoded bytes -> uint8 [h, w, 3] RGB; grayscale, RGBA, palette and 16-bit converted."""
  image = tf.io.decode_image(contents, channels=3, dtype=tf.uint16, expand_animations=False)
  # Decoding to uint16 keeps 16-bit PNGs exact; 8-bit sources come back scaled by 257.
  return tf.cast(tf.round(tf.cast(image, tf.float32) / 257.0), tf.uint8)


def in_srgb(contents: bytes, image: np.ndarray) -> np.ndarray:
  """`image`, decoded from the file `contents` by tf.io (which reads every file as if sRGB),
  converted to sRGB when the file embeds another colour profile (image_io.to_srgb: Display
  P3 from phones, Adobe RGB from cameras)."""
  try:
    with image_io.open_image(io.BytesIO(contents)) as source:  # (the header only)
      icc = source.info.get("icc_profile")
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
    return image
  if not icc:
    return image
  tagged = Image.fromarray(np.asarray(image, np.uint8))
  tagged.info["icc_profile"] = icc
  converted = image_io.to_srgb(tagged)
  return image if converted is tagged else np.asarray(converted.convert("RGB"))


def read_image(path: str) -> np.ndarray:
  """Decodes one file eagerly, in sRGB (in_srgb); raises DataError naming it when it is not
  a usable image."""
  try:
    contents = tf.io.read_file(path)
    image = decode_rgb(contents)
  except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
    raise DataError(f"cannot decode image {path}: {_op_message(e)}") from None
  if image.shape[0] < 1 or image.shape[1] < 1:
    raise DataError(f"image {path} is empty")
  return in_srgb(contents.numpy(), image.numpy())


def _op_message(error):
  """The human part of a TensorFlow op error: no function-node or op decorations."""
  message = error.message.splitlines()[0]
  message = message.split("}} ")[-1]
  return message.split(" [Op:")[0].strip()


class SkipCounter:
  """Counts (thread-safely) and names the files the pipeline skipped, in the order met.

  Silent: a folder of many bad files would bury the progress line under a warning each;
  `summary` is the one line a run ends with."""

  SHOWN = 3  # names in the summary

  def __init__(self):
    self._lock = threading.Lock()
    self._skipped = {}  # (a dict keeps the order files were met)

  def add(self, path: str) -> None:
    with self._lock:
      self._skipped[path] = None

  @property
  def skipped(self) -> List[str]:
    with self._lock:
      return list(self._skipped)

  @property
  def count(self) -> int:
    return len(self._skipped)

  def summary(self) -> str:
    """"skipped 5 undecodable training images: a.png, b.jpg, c.png and 2 more"."""
    names = self.skipped
    shown = ", ".join(names[:self.SHOWN])
    more = f" and {len(names) - self.SHOWN} more" if len(names) > self.SHOWN else ""
    return (f"skipped {len(names)} undecodable training image"
            f"{'s' if len(names) != 1 else ''}: {shown}{more}")


def first_decodable(files: Sequence[str], counter: Optional[SkipCounter] = None) -> int:
  """Index of the first file that decodes, the files before it added to `counter`;
  DataError if none does."""
  for i, path in enumerate(files):
    try:
      read_image(path)
      return i
    except DataError:
      if counter is not None:
        counter.add(path)
  raise DataError(f"none of the {len(files)} image files decodes "
                  f"(first: {files[0]})")


def _make_safe_decode(counter, fallback):
  """A py_function body: decode, or report the file and use `fallback` in its place.

  Substituting instead of filtering keeps element i at position i of the stream, so a
  resumed run stays aligned with an uninterrupted one even when some files are bad.
  """

  def safe_decode(path):
    path = path.numpy().decode()
    try:
      contents = tf.io.read_file(path)
      image = decode_rgb(contents)
      if image.shape[0] > 0 and image.shape[1] > 0:
        return in_srgb(contents.numpy(), image.numpy())
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
      pass
    counter.add(path)
    return read_image(fallback)

  return safe_decode


def random_square_crop(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
  """A random square of the shorter side, resized to size x size float32 in [0, 255]."""
  shape = tf.shape(image)
  side = tf.minimum(shape[0], shape[1])
  crop = tf.image.stateless_random_crop(image, tf.stack([side, side, 3]), seed=seed)
  resized = tf.image.resize(tf.cast(crop, tf.float32), [size, size], method="area",
                            antialias=True)
  return tf.clip_by_value(resized, 0.0, 255.0)


def _epoch_permutation(n, seed, epoch):
  noise = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
  return tf.argsort(noise)


def folder_dataset(files: Sequence[str], *, image_size: int, global_batch: int, seed: int = 0,
                   start_step: int = 0,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   deterministic: bool = False, counter: Optional[SkipCounter] = None,
                   fallback: Optional[str] = None) -> tf.data.Dataset:
  """Batches of training crops from `files` for one input pipeline.

  Args:
    files: image paths (from `list_images`).
    image_size: side of the square crops.
    global_batch: batch size over all replicas; each pipeline batches per replica.
    seed: seeds the epoch permutations and crops.
    start_step: the global step to start at (resuming).
    input_context: a tf.distribute.InputContext, or None for one pipeline and replica.
    deterministic: keep element order under parallel decoding.
    counter: a SkipCounter that learns about undecodable files.
    fallback: a decodable file that stands in for undecodable ones (found if None).
  """
  n = len(files)
  pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0
  per_replica = (input_context.get_per_replica_batch_size(global_batch) if input_context
                 else global_batch)
  start = start_step * global_batch
  table = tf.constant(files)
  counter = counter or SkipCounter()
  fallback = fallback or files[first_decodable(files)]

  def epoch_files(epoch):
    perm = _epoch_permutation(n, seed, epoch)
    return tf.data.Dataset.from_tensor_slices(perm)

  indices = (tf.data.Dataset.range(start // n, np.iinfo(np.int64).max)
             .flat_map(lambda epoch: tf.data.Dataset.zip(
                 tf.data.Dataset.range(epoch * n, (epoch + 1) * n), epoch_files(epoch)))
             .skip(start % n)
             .shard(pipelines, pipeline_id))
  safe_decode = _make_safe_decode(counter, fallback)

  def load(element, file_index):
    image = tf.py_function(safe_decode, [table[file_index]], tf.uint8)
    image.set_shape([None, None, 3])
    crop_seed = tf.stack([tf.cast(seed, tf.int64) + 1, element])
    return random_square_crop(image, image_size, crop_seed)

  options = tf.data.Options()
  options.deterministic = deterministic
  return (indices.map(load, num_parallel_calls=tf.data.AUTOTUNE)
          .batch(per_replica, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE)
          .with_options(options))


def tfds_dataset(name: str, *, image_size: int, global_batch: int,
                 data_dir: Optional[str] = None, seed: int = 0,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 deterministic: bool = False) -> tf.data.Dataset:
  """Batches of training crops from a tensorflow-datasets image dataset ("coco/2014").

  Resuming reshuffles rather than replaying the exact order: tfds readers keep no
  index-addressable stream.
  """
  import tensorflow_datasets as tfds  # Imported lazily: it is slow and only used here.
  per_replica = (input_context.get_per_replica_batch_size(global_batch) if input_context
                 else global_batch)
  read_config = tfds.ReadConfig(shuffle_seed=seed, input_context=input_context)
  ds = tfds.load(name, split="train", data_dir=data_dir, shuffle_files=True,
                 read_config=read_config)

  def crop(index, example):
    return random_square_crop(example["image"], image_size,
                              tf.stack([tf.cast(seed, tf.int64) + 1, index]))

  options = tf.data.Options()
  options.deterministic = deterministic
  return (ds.repeat().shuffle(1000, seed=seed).enumerate()
          .map(crop, num_parallel_calls=tf.data.AUTOTUNE)
          .batch(per_replica, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE)
          .with_options(options))


def check_tfds_name(name: str) -> None:
  """Raises DataError unless tensorflow-datasets knows `name` (no download happens)."""
  import tensorflow_datasets as tfds  # (slow to import: only for tfds training data)
  base = name.split("/")[0].split(":")[0]
  if base not in tfds.list_builders():
    raise DataError(f"unknown tensorflow-datasets dataset {name!r} "
                    f"(see tfds.list_builders())")


def draw_styles(seed: int, step, total: int, num: int):
  """Which of `num` styles each example of a global batch of `total` trains, at `step`.

  Balanced and reproducible: global example g = step * total + i takes position g % num of
  a random permutation drawn for cycle g // num, so every style is drawn once per `num`
  examples, and the draw depends on (seed, step, i) only: a resumed run and any split over
  replicas draw the same. Returns int32 [total].
  """
  g = tf.cast(step, tf.int64) * total + tf.range(total, dtype=tf.int64)
  cycles, positions = g // num, g % num
  # Seeds (seed, -1 - cycle): negative, so apart from the temporal term's (seed, step).
  seeds = tf.stack([tf.fill([total], tf.constant(seed, tf.int64)), -1 - cycles], axis=1)
  keys = tf.map_fn(lambda s: tf.random.stateless_uniform([num], s), seeds,
                   fn_output_signature=tf.float32)
  order = tf.argsort(keys, axis=1, stable=True)
  return tf.gather(order, tf.cast(positions, tf.int32), axis=1, batch_dims=1)
