"""`fastchi contact-sheet`'s work: every style of a model on photos, in one captioned PNG.

`run(ContactSheetJob(model=..., inputs=[...], output="sheet.png"))` checks the paths and the
model, renders the rows (fastchi_tf.sheets) and writes the sheet; bad paths, models or styles
raise cli.UsageError, a failed write cli.Failed and Ctrl-C cli.Interrupted, each after
removing the folders the job made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Optional, Sequence

from fastchi_tf import cli
from fastchi_tf import sheets
from fastchi_tf import stylize
from fastchi_tf import stylizers
from fastchi_tf.jobs import stylize as stylize_job
from fastchi_tf.light import image_io
from fastchi_tf.light import io_utils
from fastchi_tf.light import model_files
from fastchi_tf.light import runtime as runtime_lib


@dataclasses.dataclass
class ContactSheetJob:
  """One run of `fastchi contact-sheet`; the fields are its flags'."""
  model: str  # a SavedModel folder, .keras file or .tflite file
  inputs: Sequence[str]  # photos: one row each
  output: str  # a .png file
  mix: Optional[Sequence[str]] = None  # two styles: a row mixing them
  ramp: Optional[str] = None  # a style: a row of strengths from 0 to 1
  steps: int = 5  # images in the mix and strength rows
  max_size: Optional[int] = 512
  threads: Optional[int] = None  # None: every core
  device: Optional[str] = None  # "cpu", "gpu:N" or None (cli.device's forms)
  runtime: str = "auto"  # "auto", "tflite" or "tf" (fastchi_tf.light.runtime.choose)


def run(job: ContactSheetJob) -> runtime_lib.Choice:
  """Writes the contact sheet job.output; returns the runtime and model file that ran."""
  from fastchi_tf import plots  # (matplotlib: the light install has none; said up front)
  with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
    created = []
    try:
      model_files.kind(job.model)  # a photo as --model: before TensorFlow's start
      if not job.output.lower().endswith(".png"):
        raise ValueError(f"--output {job.output}: a contact sheet is written as .png")
      images = [stylize.downscale(image_io.read_image(p), job.max_size) for p in job.inputs]
      io_utils.check_not_inputs([job.output], [*job.inputs, job.model])
      created = io_utils.prepare_output(job.output)  # an unwritable place: before the work
      cli.claim_output(held, job.output, created)
      # fastchi stylize's choice, for a job that neither tiles nor mixes precisions
      choice = stylize_job.choose_runtime(stylize_job.StylizeJob(
          model=job.model, input="", device=job.device, runtime=job.runtime))
      if choice.runtime == runtime_lib.TF:
        cli.import_tensorflow_quietly(job.threads, job.device)
      stylizer = stylizers.load_stylizer(choice.model, num_threads=job.threads)
      rows = sheets.contact_sheet(stylizer, images[0], job.mix, job.ramp, job.steps,
                                  more=images[1:])
    except ValueError as e:
      io_utils.remove_empty(created)
      raise cli.UsageError(str(e)) from None
    except KeyboardInterrupt:
      io_utils.remove_empty(created)
      raise cli.Interrupted(f"{job.output} was not written") from None
    try:
      plots.labelled_rows(rows, job.output, title=os.path.basename(job.model))
    except OSError as e:  # a full disk, say
      io_utils.remove_empty(created)
      raise cli.Failed(f"cannot write {job.output}: {e.strerror or e}") from None
    except KeyboardInterrupt:
      io_utils.remove_empty(created)
      raise cli.Interrupted(f"{job.output} was not written") from None
  return choice
