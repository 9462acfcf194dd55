"""`fastchi stylize`'s work: the checks, the paths, the model and the run, and the summary.

`run(StylizeJob(model=..., input=...))` stylizes a file, a folder or a glob and returns a
`StylizeResult`; bad paths or flags raise cli.UsageError and Ctrl-C cli.Interrupted, each
after removing the folders the job made. A single image that fails is a result with an
`error` (its JSON summary is still printed); a folder's failed images are in `failed`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import io
import os
import shutil
import tempfile
import time
from typing import Callable, Optional, Sequence

from PIL import Image

from fastchi_tf import cli
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.light import image_io
from fastchi_tf.light import io_utils
from fastchi_tf.light import machine
from fastchi_tf.light import model_files
from fastchi_tf.light import runtime as runtime_lib
from fastchi_tf.progress import Progress

SUFFIX = "_stylized"  # photo.jpg's result without --output: photo_stylized.jpg
STDIN = "-"  # as --input: standard input; as --output: standard output (PNG)


@dataclasses.dataclass
class StylizeJob:
  """One run of `fastchi stylize`; the fields are its flags'."""
  model: str  # a SavedModel folder, .keras file or .tflite file
  input: str  # an image, a folder, a glob, or STDIN
  output: Optional[str] = None  # None: beside the input (default_output)
  style: Optional[str] = None
  strength: float = 1.0
  max_size: Optional[int] = None
  preserve_color: bool = False
  tile: Optional[int] = None
  batch_size: int = 4
  mixed_precision: bool = False
  threads: Optional[int] = None  # None: every core
  device: Optional[str] = None  # "cpu", "gpu:N" or None (cli.device's forms)
  json: bool = False  # the summary goes to standard output, so messages do not
  runtime: str = "auto"  # "auto", "tflite" or "tf" (fastchi_tf.light.runtime.choose)


@dataclasses.dataclass
class StylizeResult:
  """What a job wrote. `output` is "-" for standard output, whose PNG is `data`."""
  job: StylizeJob
  output: str
  files: list[str]  # the inputs found
  written: list[str]
  failed: list[str]  # the inputs that were not stylized
  seconds: float
  many: bool  # a folder or glob (else one image)
  error: Optional[str] = None  # why the one image failed
  data: Optional[bytes] = None
  choice: Optional[runtime_lib.Choice] = None  # the runtime and file that ran

  def summary(self) -> dict:
    """The --json summary."""
    found = {"model": self.job.model, "input": self.job.input, "output": self.output,
             "written": self.written, "failed": self.failed, "seconds": self.seconds}
    if self.choice:
      found.update(runtime=self.choice.runtime, ran=self.choice.model)
    return found if self.error is None else {**found, "error": self.error}


def default_output(pattern: str, image_formats: Sequence[str]) -> str:
  """Where results go without --output: beside the input."""
  if pattern == STDIN:
    return STDIN
  if os.path.isdir(pattern):
    return os.path.normpath(pattern) + SUFFIX
  if glob.has_magic(pattern) and not os.path.exists(pattern):
    return "stylized"
  stem, ext = os.path.splitext(pattern)
  return f"{stem}{SUFFIX}{ext if ext.lower() in image_formats else '.png'}"


def check(job: StylizeJob) -> None:
  """What the flags alone tell: UsageError naming the first problem."""
  cli.check_tile(job.tile)
  if job.json and job.output == STDIN:
    raise cli.UsageError("--json and --output - both write to standard output; choose one")
  if job.model.endswith(".tflite") and (job.device or "cpu") != "cpu":
    raise cli.UsageError(f"--device {job.device}: a .tflite model runs on the CPU (LiteRT); "
                         "give a .keras or SavedModel model to use a GPU")


def to_stdout(job: StylizeJob) -> bool:
  return (job.output or default_output(job.input, ())) == STDIN


def run(job: StylizeJob, read_stdin: Callable[[], bytes] = bytes) -> StylizeResult:
  """Stylizes what `job` names; `read_stdin()` gives standard input's bytes for --input -.
  Raises cli.UsageError (nothing was done), cli.Failed (another job holds the output) or
  cli.Interrupted."""
  scratch = tempfile.mkdtemp(prefix="fastchi-stylize-")
  try:
    with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
      return _run(job, read_stdin, scratch, held)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def _run(job, read_stdin, scratch, held):
  check(job)
  start = time.perf_counter()
  output = job.output or default_output(job.input, image_io.IMAGE_FORMATS)
  piped = output == STDIN
  pattern = _stdin_to_file(read_stdin(), scratch) if job.input == STDIN else job.input
  if piped:
    output = os.path.join(scratch, "stdout.png")
  files, many, skipped = _inputs(pattern, image_io.IMAGE_FORMATS)
  if many and piped:
    raise cli.UsageError("--output - takes one image; give a file or folder for many")
  ours = (f"skipped {skipped} earlier result{'s' if skipped > 1 else ''} named "
          f"NAME{SUFFIX}.EXT (this tool's output for one image); name one as --input to "
          "stylize it again")
  if many and not files:
    raise cli.UsageError(f"no images found for --input {job.input} (images: "
                         f"{', '.join(image_io.IMAGE_FORMATS)})"
                         + (f"; {ours}" if skipped else ""))
  if skipped:
    cli.warn(ours)
  if not many and not piped and (os.path.isdir(output) or output.endswith(os.sep)):
    # a folder for one image: the image's name in it
    output = os.path.join(output, "stylized.png" if job.input == STDIN
                          else os.path.basename(files[0]))
  outputs, created, stylizer, choice = _prepare(job, pattern, files, many, output, piped,
                                                held)

  progress = Progress(len(files), label="image", unit="img") if many else None
  errors = []
  try:
    failed = stylize.stylize_files(
        stylizer, list(zip(files, outputs)), max_size=job.max_size,
        keep_color=job.preserve_color, tile=job.tile, batch_size=job.batch_size,
        on_done=progress.update if progress else None,
        on_skip=(lambda m: cli.warn(f"skipped: {m}")) if many else errors.append)
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    raise cli.Interrupted("images written so far are complete; no partial file was left") \
        from None
  result = StylizeResult(job, STDIN if piped else output, files, [], failed,
                         round(time.perf_counter() - start, 3), many, choice=choice)
  if not many and failed:
    io_utils.remove_empty(created)
    result.failed = [job.input]
    result.error = _from_stdin(errors[0], job, pattern)
    return result
  if piped:
    with open(output, "rb") as f:
      result.data = f.read()
  result.written = [o for f, o in zip(files, outputs) if f not in failed and not piped]
  return result


def _prepare(job, pattern, files, many, output, piped, held):
  """The outputs' paths checked and claimed, and the model loaded in the chosen style on the
  chosen runtime: (outputs, folders created, stylizer, runtime.Choice). UsageError (the
  folders made removed) if any of it fails; Interrupted while the model loads."""
  created = []
  try:
    if many:
      outputs = [os.path.join(output, os.path.basename(f)) for f in files]
      _check_distinct(files, outputs)
    else:
      image_io.check_extension(files[0], "input")
      image_io.check_extension(output, "output")
      if not os.path.isfile(files[0]):
        image_io.read_image(files[0])  # names what is wrong: missing, a folder
      outputs = [output]
    io_utils.check_not_inputs(outputs, files + [job.model])
    created = io_utils.prepare_folder(output) if many else io_utils.prepare_output(output)
    if not piped:  # (two jobs writing one output would both say "wrote")
      # Claimed at once: a failed job removes the folders it made, and only a claim's
      # holder may (a folder's claim lies outside it, so another job's folder looks empty).
      cli.claim_output(held, output, created)
    choice = choose_runtime(job)
    # A photo as --model, no --style: at once, in the file that will load.
    model_files.check(choice.model, job.style)
    if choice.runtime == runtime_lib.TF:
      # Once every check that needs none is done. A .tflite model runs on LiteRT alone: the
      # light path never imports TensorFlow.
      cli.import_tensorflow_quietly(job.threads, job.device)
    if job.mixed_precision:
      from fastchi_tf import precision  # TensorFlow: imported just above, and only here
      precision.check_available("stylize.py")
    stylizer = stylizers.load_stylizer(choice.model, job.mixed_precision, job.threads)
    stylizer.set_style(job.style, job.strength)
  except ValueError as e:
    io_utils.remove_empty(created)
    raise cli.UsageError(_from_stdin(e, job, pattern)) from None
  except KeyboardInterrupt:  # while the model loads
    io_utils.remove_empty(created)
    raise cli.Interrupted("nothing was written") from None
  return outputs, created, stylizer, choice


def choose_runtime(job: StylizeJob) -> runtime_lib.Choice:
  """The runtime and model file for `job` (runtime.choose): TensorFlow for a GPU or
  --mixed_precision, else what is faster here. RuntimeChoiceError (a ValueError) for a
  --runtime that cannot run it."""
  needs = " and ".join(
      ([f"--device {job.device}"] if (job.device or "cpu") != "cpu" else [])
      + (["--mixed_precision"] if job.mixed_precision else []))
  gpu = job.device is None and machine.gpu_visible()
  return runtime_lib.choose(job.model, job.runtime, needs=needs, gpu=gpu,
                            tile=bool(job.tile))


def _inputs(pattern, image_formats):
  """(image files, whether there may be many, how many were left out as our own results): a
  folder's or a glob's images (other files and folders left out alike) but our default
  outputs, NAME_stylized.EXT (a later '*.jpg' stylized them again); or the one file named."""
  if os.path.isdir(pattern):
    found = [os.path.join(pattern, n) for n in sorted(os.listdir(pattern))]
  elif glob.has_magic(pattern) and not os.path.exists(pattern):
    found = sorted(glob.glob(pattern))
  else:
    return [pattern], False, 0
  images = [f for f in found if os.path.isfile(f)
            and os.path.splitext(f)[1].lower() in image_formats]
  kept = [f for f in images if not os.path.splitext(os.path.basename(f))[0].endswith(SUFFIX)]
  return kept, True, len(images) - len(kept)


def _check_distinct(files, outputs):
  """Two inputs of one name (a glob over folders) would write the same output."""
  seen = {}
  for src, dst in zip(files, outputs):
    if dst in seen:
      raise cli.UsageError(f"{seen[dst]} and {src} would both be written to {dst}; stylize "
                           "them in separate runs or give each folder its own --output")
    seen[dst] = src


def _stdin_to_file(data, folder):
  """Standard input's image bytes as a file in `folder` (the library reads files)."""
  if not data:
    raise cli.UsageError("--input -: standard input is empty; pipe an image into it")
  try:
    kind = image_io.open_image(io.BytesIO(data)).format or "PNG"
  except (OSError, Image.DecompressionBombError):
    kind = "PNG"  # read_image names the problem
  # (cameras' JPEGs with a preview image inside are MPO to Pillow)
  ext = {"JPEG": ".jpg", "MPO": ".jpg"}.get(kind, "." + kind.lower())
  if ext not in image_io.IMAGE_FORMATS:
    raise cli.UsageError(f"--input -: standard input holds a {kind} image; give one of "
                         f"{', '.join(sorted(set(image_io.IMAGE_FORMATS.values())))}")
  path = os.path.join(folder, "stdin" + ext)
  with open(path, "wb") as f:
    f.write(data)
  return path


def _from_stdin(error, job, pattern):
  """An error's message, naming standard input rather than the file it was copied to."""
  text = str(error)
  return text.replace(pattern, "standard input") if job.input == STDIN else text
