r"""Stylizes a video with an exported model, its frames spread over the available devices.

  python tools/stylize_video.py --model export/saved_model --input in.mp4 --output out.mp4

The output keeps the source's frame rate (30000/1001 included), exact size, frame count and
audio track; it is H.264 in MP4 (4:4:4 chroma when a side is odd, which 4:2:0 cannot hold).
Without GPUs, --cpu_devices N splits the CPU into N logical devices, one worker each.
"""

import sys

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "SavedModel folder, .keras file or .tflite file.")
flags.DEFINE_string("input", None, "Input video (anything ffmpeg reads).")
flags.DEFINE_string("output", None, "Output video: .mp4 (default choice), .mov or .mkv.")
flags.DEFINE_integer("devices", None, "Devices to use (GPUs, else logical CPUs); default all.")
flags.DEFINE_integer("cpu_devices", None, "Split the CPU into this many logical devices.")
flags.DEFINE_integer("batch_size", 4, "Frames per model call on each device.")
flags.DEFINE_integer("max_frames", None, "Stylize only the first N frames (audio is cut too).")
flags.DEFINE_bool("preserve_color", False, "Keep the source's colours (luminance transfer).")
flags.DEFINE_integer("crf", 18, "H.264 quality: 0 lossless, 18 visually lossless, 51 worst.")
flags.DEFINE_string("preset", "veryfast", "x264 speed preset (ultrafast ... veryslow); "
                    "veryfast keeps encoding from slowing the model, at about the same size.")
flags.DEFINE_bool("mixed_precision", False, "float16 compute (GPUs only; needs .keras).")
flags.DEFINE_integer("tile", None, "Tile size for frames too big for memory, e.g. 1024. "
                     "Default: 512 above 2048x2048 pixels when the model is a .keras file "
                     "or an export folder; 0 never tiles.")

FLAGS = flags.FLAGS


def _fail(message):
  sys.exit(f"stylize_video.py: error: {message}")


def main(argv):
  if len(argv) > 1:
    _fail(f"unexpected arguments {argv[1:]}")
  for name in ("model", "input", "output"):
    if not getattr(FLAGS, name):
      _fail(f"--{name} is required")
  for name in ("devices", "cpu_devices", "batch_size", "max_frames"):
    value = getattr(FLAGS, name)
    if value is not None and value < 1:
      _fail(f"--{name} must be at least 1, got {value}")
  if not 0 <= FLAGS.crf <= 51:
    _fail(f"--crf must be in 0..51, got {FLAGS.crf}")
  if FLAGS.tile is not None and FLAGS.tile != 0 and FLAGS.tile < 64:
    _fail(f"--tile must be 0 (never) or at least 64, got {FLAGS.tile}")

  # TensorFlow is imported after the flag checks: they answer at once.
  from fastchi_tf import distribute
  from fastchi_tf import precision
  from fastchi_tf import stylize
  from fastchi_tf import video
  from fastchi_tf import video_io
  if FLAGS.cpu_devices:
    distribute.split_cpu(FLAGS.cpu_devices)
  try:
    info = video_io.probe(FLAGS.input)
    video.check_output(FLAGS.input, FLAGS.output)
    devices = video.video_devices(FLAGS.devices)
    if FLAGS.mixed_precision:
      precision.check_available("stylize_video.py")
    frame_fns, stylizer = video.frame_functions(FLAGS.model, len(devices), FLAGS.preserve_color,
                                                FLAGS.tile, FLAGS.mixed_precision)
    if FLAGS.tile and stylizer.keras_model is None:
      raise stylize.StylizeError("--tile needs the Keras model: give a .keras file or an "
                                 "export folder's saved_model (with model.keras beside it)")
    if video_io.pixel_format(info.width, info.height) != "yuv420p":
      print(f"note: {info.width}x{info.height} has an odd side; encoding 4:4:4 chroma to keep "
            "it exact (some players, e.g. browsers, only play 4:2:0)", file=sys.stderr)
    print(f"{FLAGS.input}: {info.width}x{info.height}, {float(info.fps):.3f} fps "
          f"({info.fps}), {info.duration:.2f} s, audio: {info.audio_codec or 'none'}; "
          f"devices: {', '.join(devices)}", file=sys.stderr)
    result = video.stylize_video(
        FLAGS.input, FLAGS.output, frame_fns, devices,
        batch_size=FLAGS.batch_size, max_frames=FLAGS.max_frames, crf=FLAGS.crf,
        preset=FLAGS.preset)
  except (video_io.VideoError, stylize.StylizeError, ValueError) as e:
    _fail(e)
  except KeyboardInterrupt:
    _fail(f"interrupted; {FLAGS.output} was not written")
  rate = result["frames"] / max(result["seconds"], 1e-9)
  split = ", ".join(f"{d.split('device:')[-1]}: {n}"
                    for d, n in result["frames_per_device"].items())
  print(f"wrote {FLAGS.output}: {result['frames']} frames in {result['seconds']:.1f} s "
        f"({rate:.2f} frames/s; per device {split})")


if __name__ == "__main__":
  app.run(main)
