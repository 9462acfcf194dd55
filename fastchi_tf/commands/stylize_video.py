r"""Stylizes a video with an exported model, its frames spread over the available devices.

  fastchi video --model export/saved_model --input in.mp4 --output out.mp4

The output keeps the source's frame rate (30000/1001 included; a variable rate's frame
times), exact size, pixel aspect ratio, frame count and audio tracks; it is H.264 (4:4:4
chroma when a side is odd, which 4:2:0 cannot hold) with the BT.709 matrix and the source's
primaries and transfer (BT.709 when untagged). Missing output folders are created.
A multi-style model takes --style (a name, an index or a mix) and --strength, as
fastchi stylize does; --list_styles prints its styles.
Without GPUs, --cpu_devices N splits the CPU into N logical devices, one worker each.
--runtime auto (the default) runs an export's saved_model or model.keras, and the shipped
styles, on the TFLite file beside it where that is faster: on CPUs without AVX-512, unless
--mixed_precision needs TensorFlow (fastchi info says which runs here).
"""

import types

from absl import flags

from fastchi_tf import cli
from fastchi_tf.commands import style_flags
from fastchi_tf.jobs import video as video_job

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file. Default: "
                    "the shipped styles (fastchi_tf/shipped; --runtime chooses its TFLite "
                    "or .keras file).")
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
flags.DEFINE_enum("preset", "veryfast", video_job.X264_PRESETS, "x264 speed preset; veryfast "
                  "keeps encoding from slowing the model, at about the same size.")
flags.DEFINE_float("stabilize", 0.0, "Steadier video: blend each stylized frame with the "
                   "previous one carried along the input's optical flow, where the flow is "
                   "trustworthy (fastchi_tf/stabilize.py); the strength, in [0, 1). 0 writes "
                   "the frames as stylized.")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
flags.DEFINE_bool("report_flicker", False, "After writing, measure the warping error of the "
                  "input and the output (flicker; see fastchi_tf/flicker.py), print it and "
                  "write it as JSON next to the output (OUTPUT.flicker.json).")
cli.define_tile_flag("Tile size for frames too big for memory, e.g. 1024. Default: 512 "
                     "above 2048x2048 pixels (any model exported by this version; older "
                     "exports: .keras or an export folder); 0 never tiles.")
style_flags.define_style_flags()
cli.define_runtime_flags(device=False)  # --devices chooses them
cli.define_runtime_choice_flag()

FLAGS = flags.FLAGS


def _list_styles():
  names = style_flags.model_style_names(FLAGS.model)
  style_flags.print_styles(types.SimpleNamespace(path=FLAGS.model, style_names=names))


def job_from_flags() -> video_job.VideoJob:
  return video_job.VideoJob(
      model=FLAGS.model, input=FLAGS.input, output=FLAGS.output, style=FLAGS.style,
      strength=FLAGS.strength, devices=FLAGS.devices, cpu_devices=FLAGS.cpu_devices,
      batch_size=FLAGS.batch_size, max_frames=FLAGS.max_frames,
      preserve_color=FLAGS.preserve_color, crf=FLAGS.crf, preset=FLAGS.preset,
      mixed_precision=FLAGS.mixed_precision, tile=FLAGS.tile, threads=cli.threads(),
      report_flicker=FLAGS.report_flicker, runtime=FLAGS.runtime, stabilize=FLAGS.stabilize)


def main(argv):
  del argv
  if FLAGS.model is None:
    FLAGS.model = style_flags.default_model("keras")
  if FLAGS.list_styles:
    _list_styles()
    return
  cli.require("input", "output")
  result = video_job.run(job_from_flags(), on_written=_say_written)
  if result.flicker:
    source, output = result.flicker["input"], result.flicker["output"]
    print(f"flicker (warping error, lower is steadier): input "
          f"{source['warping_error']:.5f}, output {output['warping_error']:.5f} "
          f"({result.flicker['output_to_input']:.1f}x the input's) over {output['pairs']} "
          f"frame pairs, {output['scene_cuts']} scene cuts skipped; wrote "
          f"{result.flicker_path}")


def _say_written(result):
  rate = result["frames"] / max(result["seconds"], 1e-9)
  split = ", ".join(f"{d.split('device:')[-1]}: {n}"
                    for d, n in result["frames_per_device"].items())
  kept = "; a variable frame rate, each frame at its own time" if result["variable_rate"] \
      else ""
  if result.get("scene_cuts") is not None:
    kept += f"; stabilized at {FLAGS.stabilize:g}, {result['scene_cuts']} scene cuts"
  print(f"wrote {FLAGS.output}: {result['frames']} frames in {result['seconds']:.1f} s "
        f"({rate:.2f} frames/s; per device {split}){kept}")


if __name__ == "__main__":
  cli.run(main)
