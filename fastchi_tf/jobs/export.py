"""`fastchi export`'s work: a training run's latest checkpoint as SavedModel, .keras, TFLite
and ONNX, each checked against the SavedModel (fastchi_tf.export does the exporting).

`run(ExportJob(model_dir=..., export_dir=...))` returns the exports' largest differences
to the SavedModel in uint8 levels; a path that is not a run or an export folder that would
replace something else raises cli.UsageError, a failed export cli.Failed and Ctrl-C
cli.Interrupted.
"""

import dataclasses
import os
from typing import Dict

from fastchi_tf import cli


@dataclasses.dataclass
class ExportJob:
  """One run of `fastchi export`; the fields are its flags'."""
  model_dir: str  # a training run's folder
  export_dir: str  # replaced whole
  tflite: bool = False  # also float32 and float16 TFLite files
  onnx: bool = False  # also model.onnx (tf2onnx and onnxruntime)


def check_run(model_dir: str) -> None:
  """UsageError unless `model_dir` is a training run's folder (no TensorFlow needed)."""
  if not os.path.isdir(model_dir):
    raise cli.UsageError(f"--model_dir {model_dir} is not a folder" if os.path.exists(model_dir)
                         else f"--model_dir {model_dir} not found")
  if not os.path.isfile(os.path.join(model_dir, "config.json")):
    raise cli.UsageError(f"--model_dir {model_dir} is not a training run (no config.json)")


def run(job: ExportJob) -> Dict[str, int]:
  """Exports the run; {"float32" / "float16" / "onnx": max difference} of the extra forms."""
  check_run(job.model_dir)
  cli.import_tensorflow_quietly(None, None)  # (the export command has no --threads, --device)
  from fastchi_tf import export  # TensorFlow: imported quietly just above
  try:
    export.check_export_dir(job.model_dir, job.export_dir)
    if job.onnx:
      export.check_onnx_available()  # before minutes of work, not after
  except export.ExportError as e:
    raise cli.UsageError(str(e)) from None
  try:
    return export.export_all(job.model_dir, job.export_dir, job.tflite, onnx=job.onnx)
  except export.ExportError as e:
    raise cli.Failed(str(e)) from None
  except KeyboardInterrupt:
    raise cli.Interrupted(f"{job.export_dir} was left as it was") from None
