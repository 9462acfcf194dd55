r"""Stylizes a video with an exported model, its frames spread over the available devices.

  fastchi video --model export/saved_model --input in.mp4 --output out.mp4

The output keeps the source's frame rate (30000/1001 included; a variable rate's frame
times), exact size, pixel aspect ratio, frame count and audio tracks; it is H.264 (4:4:4
chroma when a side is odd, which 4:2:0 cannot hold) with the BT.709 matrix and the source's
primaries and transfer (BT.709 when untagged). Missing output folders are created.
A multi-style model takes --style (a name, an index or a mix) and --strength, as
fastchi stylize does; --list_styles prints its styles.
Without GPUs, --cpu_devices N splits the CPU into N logical devices, one worker each.
"""

import contextlib
import os
import sys
import types

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file. Default: "
                    "the shipped styles (fastchi_tf/shipped).")
flags.DEFINE_string("input", None, "Input video file (anything ffmpeg reads).")
flags.DEFINE_string("output", None, "Output video: .mp4 (default choice), .mov or .mkv.")
flags.DEFINE_integer("devices", None, "Devices to use (GPUs, else logical CPUs); default all.",
                     lower_bound=1)
flags.DEFINE_integer("cpu_devices", None, "Split the CPU into this many logical devices.",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 4, "Frames per model call on each device.", lower_bound=1)
flags.DEFINE_integer("max_frames", None, "Stylize only the first N frames (audio is cut too).",
                     lower_bound=1)
flags.DEFINE_bool("preserve_color", False, "Keep the source's colours (luminance transfer).")
flags.DEFINE_integer("crf", 18, "H.264 quality: 0 lossless, 18 visually lossless, 51 worst.",
                     lower_bound=0, upper_bound=51)
flags.DEFINE_enum("preset", "veryfast", X264_PRESETS, "x264 speed preset; veryfast keeps "
                  "encoding from slowing the model, at about the same size.")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
flags.DEFINE_bool("report_flicker", False, "After writing, measure the warping error of the "
                  "input and the output (flicker; see fastchi_tf/flicker.py), print it and "
                  "write it as JSON next to the output (OUTPUT.flicker.json).")
cli.define_tile_flag("Tile size for frames too big for memory, e.g. 1024. Default: 512 "
                     "above 2048x2048 pixels (any model exported by this version; older "
                     "exports: .keras or an export folder); 0 never tiles.")
style_flags.define_style_flags()
cli.define_runtime_flags(device=False)  # --devices chooses them

FLAGS = flags.FLAGS


def _check_paths():
  """Everything about the paths, then what the model file and --style tell without TensorFlow,
  before it loads: returns the input's VideoInfo and the output folders created."""
  from fastchi_tf.light import io_utils  # no TensorFlow in these
  from fastchi_tf.light import model_files
  from fastchi_tf import video_io
  if FLAGS.input == "-":
    raise ValueError("--input -: the video tool reads a file (ffmpeg seeks in it), not "
                     "standard input; give a video file")
  info = video_io.probe(FLAGS.input)  # names a missing file, a folder, a non-video
  video_io.check_output(FLAGS.input, FLAGS.output, FLAGS.model)
  created = video_io.prepare_output(FLAGS.output)
  try:
    model_files.check(FLAGS.model, FLAGS.style)  # a photo as --model, no --style: at once
  except ValueError:
    io_utils.remove_empty(created)
    raise
  return info, created


def _setup():
  """Devices and model: (frame functions, devices); a ValueError names what is wrong."""
  from fastchi_tf import distribute
  from fastchi_tf import precision
  from fastchi_tf import stylizers
  from fastchi_tf import video
  if FLAGS.cpu_devices:
    distribute.split_cpu(FLAGS.cpu_devices)
  devices = video.video_devices(FLAGS.devices)
  if FLAGS.mixed_precision:
    precision.check_available("stylize_video.py")
  frame_fns, stylizer = video.frame_functions(FLAGS.model, len(devices), FLAGS.preserve_color,
                                              FLAGS.tile, FLAGS.mixed_precision,
                                              style=FLAGS.style, strength=FLAGS.strength,
                                              num_threads=cli.threads())
  if FLAGS.tile and not stylizer.supports_tiling:
    raise stylizers.StylizeError(f"--tile: {stylizers.TILING_NEEDS_KERAS}")
  return frame_fns, devices


def _list_styles():
  names = style_flags.model_style_names(FLAGS.model)
  style_flags.print_styles(types.SimpleNamespace(path=FLAGS.model, style_names=names))


def main(argv):
  del argv
  if FLAGS.model is None:
    FLAGS.model = style_flags.shipped_model("keras")
  if FLAGS.list_styles:
    _list_styles()
    return
  cli.require("input", "output")
  cli.check_tile(FLAGS.tile)
  with contextlib.ExitStack() as held:  # the output's claim (cli.claim_output)
    _stylize_video(held)


def _stylize_video(held):
  from fastchi_tf.light import io_utils
  created = []
  try:
    try:
      info, created = _check_paths()
      # (two jobs writing one output would both say "wrote")
      cli.claim_output(held, FLAGS.output, created)
      cli.import_tensorflow_quietly()
      frame_fns, devices = _setup()
    except ValueError as e:  # bad paths, devices or model: usage, nothing was done
      io_utils.remove_empty(created)
      cli.usage_error(e)
    import tensorflow as tf
    from fastchi_tf import video
    from fastchi_tf import video_io
    if video_io.pixel_format(info.width, info.height) != "yuv420p":
      cli.warn(f"note: {info.width}x{info.height} has an odd side; encoding 4:4:4 chroma to "
               "keep it exact (some players, e.g. browsers, only play 4:2:0)")
    print(f"{FLAGS.input}: {info.width}x{info.height}, {float(info.fps):.3f} fps "
          f"({info.fps}), {info.duration:.2f} s, audio: {info.audio_codec or 'none'}; "
          f"devices: {', '.join(devices)}", file=sys.stderr)
    try:
      result = video.stylize_video(
          FLAGS.input, FLAGS.output, frame_fns, devices,
          batch_size=FLAGS.batch_size, max_frames=FLAGS.max_frames, crf=FLAGS.crf,
          preset=FLAGS.preset)
    except (ValueError, tf.errors.OpError) as e:  # OpError: e.g. out of memory
      io_utils.remove_empty(created)
      cli.fail((str(e).strip() or type(e).__name__).splitlines()[0])
  except KeyboardInterrupt:
    io_utils.remove_empty(created)
    cli.interrupted(f"{FLAGS.output} was not written")
  rate = result["frames"] / max(result["seconds"], 1e-9)
  split = ", ".join(f"{d.split('device:')[-1]}: {n}"
                    for d, n in result["frames_per_device"].items())
  kept = "; a variable frame rate, each frame at its own time" if result["variable_rate"] \
      else ""
  print(f"wrote {FLAGS.output}: {result['frames']} frames in {result['seconds']:.1f} s "
        f"({rate:.2f} frames/s; per device {split}){kept}")
  if FLAGS.report_flicker:
    _report_flicker(result["frames"])


def _report_flicker(frames):
  import json
  from fastchi_tf import flicker
  from fastchi_tf.light import io_utils
  from fastchi_tf.progress import Progress
  progress = Progress(max(1, frames - 1), label="flicker pairs", unit="pair")
  try:
    report = flicker.measure_files(FLAGS.input, FLAGS.output, FLAGS.max_frames,
                                   on_pair=progress.update)
  except KeyboardInterrupt:
    cli.interrupted(f"{FLAGS.output} was written; its flicker was not measured")
  except ValueError as e:
    cli.fail(f"cannot measure flicker: {e}")
  path = FLAGS.output + ".flicker.json"  # (out.mp4's and out.mkv's apart)
  io_utils.write_text(path, json.dumps(report, indent=2) + "\n")
  source, output = report["input"], report["output"]
  print(f"flicker (warping error, lower is steadier): input {source['warping_error']:.5f}, "
        f"output {output['warping_error']:.5f} ({report['output_to_input']:.1f}x the "
        f"input's) over {output['pairs']} frame pairs, {output['scene_cuts']} scene cuts "
        f"skipped; wrote {path}")


if __name__ == "__main__":
  cli.run(main)
