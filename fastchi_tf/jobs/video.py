"""`fastchi video`'s work: the checks, the devices and the model, the run, and the flicker.

`run(VideoJob(model=..., input=..., output=...))` stylizes a video and returns a
`VideoResult`; bad paths, devices or models raise cli.UsageError (nothing was done), a run
that fails cli.Failed and Ctrl-C cli.Interrupted, each after removing the folders the job
made. TensorFlow is imported, quietly, once every check that needs none has passed; the
video modules (imageio-ffmpeg, which the light install leaves out) only when a job runs, so
`fastchi video --help` and --list_styles work without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from typing import Callable, Optional

from fastchi_tf import cli
from fastchi_tf.light import io_utils
from fastchi_tf.light import model_files
from fastchi_tf.light import runtime as runtime_lib
from fastchi_tf.progress import Progress

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")


@dataclasses.dataclass
class VideoJob:
  """One run of `fastchi video`; the fields are its flags'."""
  model: str  # a SavedModel folder, .keras file or .tflite file
  input: str  # a video file (anything ffmpeg reads)
  output: str  # .mp4, .mov or .mkv
  style: Optional[str] = None
  strength: float = 1.0
  devices: Optional[int] = None  # how many (GPUs, else logical CPUs); None: all
  cpu_devices: Optional[int] = None  # split the CPU into this many logical devices
  batch_size: int = 4
  max_frames: Optional[int] = None
  preserve_color: bool = False
  crf: int = 18
  preset: str = "veryfast"
  mixed_precision: bool = False
  tile: Optional[int] = None
  threads: Optional[int] = None  # None: every core
  report_flicker: bool = False  # measure it after writing (OUTPUT.flicker.json)
  runtime: str = "auto"  # "auto", "tflite" or "tf" (fastchi_tf.light.runtime.choose)
  stabilize: float = 0.0  # stabilize.Stabilizer's strength, in [0, 1); 0: frames as stylized


@dataclasses.dataclass
class VideoResult:
  """video.stylize_video's numbers; with report_flicker, the flicker report and its file."""
  stylized: dict
  flicker: Optional[dict] = None
  flicker_path: Optional[str] = None
  choice: Optional[runtime_lib.Choice] = None  # the runtime and model file that ran


def run(job: VideoJob, on_written: Callable[[dict], None] = lambda stylized: None
        ) -> VideoResult:
  """Stylizes job.input into job.output; `on_written(numbers)` is called once the video is
  written, before its flicker (a long second pass) is measured."""
  cli.check_tile(job.tile)
  with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
    stylized, choice = _stylize(job, held)
    on_written(stylized)
    if not job.report_flicker:
      return VideoResult(stylized, choice=choice)
    return _measure_flicker(job, stylized["frames"], VideoResult(stylized, choice=choice))


def _stylize(job, held):
  created = []
  try:
    try:
      info, created = _check_paths(job)
      # (two jobs writing one output would both say "wrote")
      cli.claim_output(held, job.output, created)
      cli.import_tensorflow_quietly(job.threads, None)  # (the devices are job.devices)
      frame_fns, devices, choice = _setup(job)
    except ValueError as e:  # bad paths, devices or model: usage, nothing was done
      io_utils.remove_empty(created)
      raise cli.UsageError(str(e)) from None
    import tensorflow as tf  # TensorFlow: imported quietly just above, after the checks
    from fastchi_tf import video  # (TensorFlow: as above)
    from fastchi_tf import video_io  # (imageio-ffmpeg: see the module's docstring)
    if video_io.pixel_format(info.width, info.height) != "yuv420p":
      cli.warn(f"note: {info.width}x{info.height} has an odd side; encoding 4:4:4 chroma to "
               "keep it exact (some players, e.g. browsers, only play 4:2:0)")
    print(f"{job.input}: {info.width}x{info.height}, {float(info.fps):.3f} fps "
          f"({info.fps}), {info.duration:.2f} s, audio: {info.audio_codec or 'none'}; "
          f"devices: {', '.join(devices)}; runtime: {choice.name} ({choice.model})",
          file=sys.stderr)
    try:
      return video.stylize_video(
          job.input, job.output, frame_fns, devices, batch_size=job.batch_size,
          max_frames=job.max_frames, crf=job.crf, preset=job.preset,
          stabilize=job.stabilize), choice
    except (ValueError, tf.errors.OpError) as e:  # OpError: e.g. out of memory
      io_utils.remove_empty(created)
      raise cli.Failed((str(e).strip() or type(e).__name__).splitlines()[0]) from None
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    raise cli.Interrupted(f"{job.output} was not written") from None


def _check_paths(job):
  """Everything about the paths, then what the model file, --style and --runtime tell
  without TensorFlow, before it loads: returns the input's VideoInfo and the output folders
  created."""
  if job.input == "-":
    raise ValueError("--input -: the video tool reads a file (ffmpeg seeks in it), not "
                     "standard input; give a video file")
  if not 0.0 <= job.stabilize < 1.0:
    raise ValueError(f"--stabilize {job.stabilize:g}: give a strength in [0, 1) (1 would "
                     "repeat the first frame for ever)")
  from fastchi_tf import video_io  # imageio-ffmpeg: see the module's docstring
  info = video_io.probe(job.input)  # names a missing file, a folder, a non-video
  video_io.check_output(job.input, job.output, job.model)
  created = video_io.prepare_output(job.output)
  try:
    model_files.check(job.model, job.style)  # a photo as --model, no --style: at once
    # --runtime's refusals need no devices: said before TensorFlow's 5-8 s start
    runtime_lib.check(job.model, job.runtime, _needs(job))
  except ValueError:
    io_utils.remove_empty(created)
    raise
  return info, created


def _setup(job):
  """Devices, runtime and model: (frame functions, devices, runtime.Choice); a ValueError
  names what is wrong."""
  # TensorFlow in all three: imported quietly before this is called.
  from fastchi_tf import distribute
  from fastchi_tf import precision
  from fastchi_tf import video
  from fastchi_tf import stylizers  # (no TensorFlow itself; here beside its users)
  if job.cpu_devices:
    distribute.split_cpu(job.cpu_devices)
  devices = video.video_devices(job.devices)
  if job.mixed_precision:
    precision.check_available("stylize_video.py")
  choice = choose_runtime(job, gpu=any("GPU" in d.upper() for d in devices))
  frame_fns, stylizer = video.frame_functions(choice.model, len(devices), job.preserve_color,
                                              job.tile, job.mixed_precision,
                                              style=job.style, strength=job.strength,
                                              num_threads=job.threads)
  if job.tile and not stylizer.supports_tiling:
    raise stylizers.StylizeError(f"--tile: {stylizers.TILING_NEEDS_KERAS}")
  return frame_fns, devices, choice


def choose_runtime(job: VideoJob, gpu: bool) -> runtime_lib.Choice:
  """The runtime and model file for `job` (runtime.choose), TensorFlow being started anyway
  (the devices are its): TensorFlow on GPUs (`gpu`) or for --mixed_precision, else what is
  faster here. RuntimeChoiceError (a ValueError) for a --runtime that cannot run it."""
  return runtime_lib.choose(job.model, job.runtime, needs=_needs(job), gpu=gpu,
                            tile=bool(job.tile), tensorflow_started=True)


def _needs(job):
  """What in `job` needs TensorFlow, as runtime.choose's `needs`."""
  return "--mixed_precision" if job.mixed_precision else ""


def _measure_flicker(job, frames, result):
  """The warping error of the input and the output, written as OUTPUT.flicker.json."""
  from fastchi_tf import flicker  # (OpenCV: only this option needs it)
  progress = Progress(max(1, frames - 1), label="flicker pairs", unit="pair")
  try:
    report = flicker.measure_files(job.input, job.output, job.max_frames,
                                   on_pair=progress.update)
  except KeyboardInterrupt:
    raise cli.Interrupted(f"{job.output} was written; its flicker was not measured") \
        from None
  except ValueError as e:
    raise cli.Failed(f"cannot measure flicker: {e}") from None
  path = job.output + ".flicker.json"  # (out.mp4's and out.mkv's apart)
  io_utils.write_text(path, json.dumps(report, indent=2) + "\n")
  return dataclasses.replace(result, flicker=report, flicker_path=path)
