"""Which runtime runs a model: TFLite (LiteRT, XNNPACK's kernels) or TensorFlow (oneDNN's on
CPU), for `--runtime auto|tflite|tf`.

An export folder (fastchi export --tflite), the shipped collection and a user's collection
hold the same network as a SavedModel or .keras file and as a TFLite file. `choose` takes
the model a tool was given and returns the file to load and the runtime that loads it;
`tflite_is_faster` is the rule, from the measurements in its docstring. No TensorFlow here:
a tool chooses before paying for TensorFlow's start.
"""

import dataclasses
import os
from typing import Optional, Tuple

from fastchi_tf.light import export_names
from fastchi_tf.light import machine

RUNTIMES = ("auto", "tflite", "tf")
TFLITE, TF = "tflite", "tf"
NAMES = {TFLITE: "TFLite", TF: "TensorFlow"}
KERNELS = {TFLITE: "TFLite (LiteRT, XNNPACK kernels)", TF: "TensorFlow (oneDNN kernels)"}
# An export folder's TFLite files, the one closest to the SavedModel first (float32: within
# 1 uint8 level of it); float16 is what the collections ship.
TFLITE_SIBLINGS = (export_names.TFLITE_FILES["float32"], export_names.TFLITE_FILES["float16"])
# The TensorFlow models of an export folder that have those TFLite files beside them.
EXPORT_MODELS = (export_names.SAVED_MODEL, export_names.KERAS_FILE)


class RuntimeChoiceError(ValueError):
  """A --runtime that cannot run the model: one line naming what is missing."""


@dataclasses.dataclass(frozen=True)
class Choice:
  """The runtime (TFLITE or TF), the model file it loads, and why, in a few words."""
  runtime: str
  model: str
  reason: str

  @property
  def name(self) -> str:
    return NAMES[self.runtime]

  @property
  def kernels(self) -> str:
    return KERNELS[self.runtime]


def tflite_is_faster(isa: Optional[str] = None,
                     tensorflow_started: bool = False) -> Tuple[bool, str]:
  """(whether a TFLite file beats TensorFlow on this CPU, why), for a job on the CPU.

  Measured with inception w16 and the shipped network, one frame per call, 2 threads
  (experiments/results/bench_exports and bench_shipped, and issue 34):
  - AVX2 without AVX-512 (a 2-core AMD EPYC): the SavedModel ran at 0.33x the TFLite file's
    frames/s at 256x256 and 0.45-0.57x at 512x512 and 1024x1024 (1,050 against 480 ms a
    frame at 1024x1024): XNNPACK is 2-3x as fast.
  - The committed records' 2-core "AMD EPYC", whose ISA was not recorded but likely AVX-512
    (oneDNN gains most from it): the SavedModel at 0.66-0.82x at 256x256, 0.94-1.03x at
    512x512 and 1.05-1.11x from 1024x1024 up; the shipped network at 1280x720 1.08x.
  - A tool on TFLite never imports TensorFlow: a 600x400 photo took 0.6 s from a cold start
    against 5.7 s with the .keras model (bench_start).
  So TFLite unless TensorFlow is started anyway (video) on an AVX-512 CPU, where its kernels
  are 5-11% faster on video-sized frames. `isa` defaults to this CPU's
  (machine.vector_isa).
  """
  isa = machine.vector_isa() if isa is None else isa
  avx512 = isa.startswith("AVX-512")
  if tensorflow_started and avx512:
    return False, (f"on {isa} TensorFlow's oneDNN kernels ran at 1.05-1.11x TFLite's "
                   "frames/s from 1024x1024 up")
  kernels = ("on AVX2 XNNPACK ran at 1.75-3x TensorFlow's frames/s" if isa == "AVX2" else
             f"on {isa} XNNPACK ran at 0.9-1.5x TensorFlow's frames/s" if avx512 else
             f"XNNPACK was not measured against TensorFlow on {isa} CPUs")
  if tensorflow_started:
    return True, kernels
  return True, f"no TensorFlow start (0.6 s against 5.7 s cold), and {kernels}"


def tflite_sibling(model: str) -> Optional[str]:
  """The TFLite file of the same network as `model`: `model` itself if it is one; for an
  export folder's saved_model or model.keras (or a collection's model.keras), the
  model_float32.tflite beside it, else model_float16.tflite; None if there is none."""
  if model.endswith(".tflite"):
    return model
  path = os.path.normpath(model)
  if os.path.basename(path) not in EXPORT_MODELS:
    return None
  for name in TFLITE_SIBLINGS:
    found = os.path.join(os.path.dirname(path), name)
    if os.path.isfile(found):
      return found
  return None


def tflite_tiles(path: str) -> bool:
  """Whether a .tflite file has the tiling signatures (exports since they came): read from
  its flatbuffer, without an interpreter."""
  # LiteRT's schema only when a job tiles (lite.py imports it too; no TensorFlow).
  from ai_edge_litert import schema_py_generated as schema  # pylint: disable=g-import-not-at-top
  try:
    with open(path, "rb") as f:
      model = schema.Model.GetRootAs(f.read(), 0)
    keys = {model.SignatureDefs(i).SignatureKey().decode()
            for i in range(model.SignatureDefsLength())}
  except Exception:  # noqa: BLE001  (a damaged file: loading it names the problem)
    return False
  return {export_names.STATISTICS, export_names.WITH_STATISTICS} <= keys


def check(model: str, runtime: str = "auto", needs: str = "") -> None:
  """choose's refusals: RuntimeChoiceError when `runtime` cannot run `model` for a job that
  `needs` TensorFlow (choose's arguments). They depend on neither the devices nor the CPU,
  so a job that starts TensorFlow anyway (video) checks them before its 5-8 s start."""
  if runtime not in RUNTIMES:
    raise RuntimeChoiceError(f"--runtime must be one of {', '.join(RUNTIMES)}, got "
                             f"{runtime!r}")
  if model.endswith(".tflite"):
    if runtime == TF:
      raise RuntimeChoiceError(f"--runtime tf: {model} is a TFLite file, which only LiteRT "
                               "runs; give the export's saved_model or model.keras")
    return
  if runtime != TFLITE:
    return
  if tflite_sibling(model) is None:
    raise RuntimeChoiceError(
        f"--runtime tflite: no TFLite file for {model} (an export folder's "
        f"{' or '.join(TFLITE_SIBLINGS)} beside it); export one with fastchi export "
        "--tflite, or use --runtime auto")
  if needs:
    raise RuntimeChoiceError(f"--runtime tflite: {needs} needs TensorFlow; use --runtime "
                             "auto or tf")


def choose(model: str, runtime: str = "auto", needs: str = "", gpu: bool = False,
           tile: bool = False, tensorflow_started: bool = False,
           isa: Optional[str] = None) -> Choice:
  """The runtime and file that run `model` (a SavedModel folder, .keras or .tflite file).

  `needs` names what in the job needs TensorFlow ("--mixed_precision", "--device gpu:0"),
  "" if nothing does; `gpu`: TensorFlow would run on a GPU; `tile`: the job tiles (an older
  export's TFLite file cannot); `tensorflow_started`: the job starts TensorFlow anyway.

  - "tf": `model` as given; a .tflite file is refused (only LiteRT runs it).
  - "tflite": `model`'s TFLite file (tflite_sibling); refused if there is none, or if the
    job needs TensorFlow.
  - "auto": a .tflite file as given; else its TFLite sibling when nothing needs TensorFlow,
    no GPU would run it, and tflite_is_faster; else `model` on TensorFlow.
  Raises RuntimeChoiceError in one line (check's refusals).
  """
  check(model, runtime, needs)
  sibling = tflite_sibling(model)
  if model.endswith(".tflite"):
    return Choice(TFLITE, model, "a .tflite model")
  if runtime == TF:
    return Choice(TF, model, "--runtime tf")
  if runtime == TFLITE:
    return Choice(TFLITE, sibling, "--runtime tflite")
  if needs:
    return Choice(TF, model, f"{needs} needs TensorFlow")
  if sibling is None:
    return Choice(TF, model, "no TFLite file beside it")
  if gpu:
    return Choice(TF, model, "a GPU runs TensorFlow")
  if tile and not tflite_tiles(sibling):
    return Choice(TF, model, f"--tile: {os.path.basename(sibling)} has no tiling signatures")
  faster, why = tflite_is_faster(isa, tensorflow_started)
  return Choice(TFLITE, sibling, why) if faster else Choice(TF, model, why)


def describe(gpu: bool = False, isa: Optional[str] = None) -> dict:
  """What `--runtime auto` runs here for a model with both files (the shipped styles, an
  export with --tflite), for fastchi info: photos' and video's runtime, and why."""
  if gpu:
    why = "a GPU runs TensorFlow (--device cpu or --runtime tflite keep LiteRT)"
    return {"photos": KERNELS[TF], "video": KERNELS[TF], "why": why}
  photos, why = tflite_is_faster(isa)
  video, video_why = tflite_is_faster(isa, tensorflow_started=True)
  return {"photos": KERNELS[TFLITE if photos else TF], "video": KERNELS[TFLITE if video else TF],
          "why": why if video else f"photos: {why}; video: {video_why}"}
