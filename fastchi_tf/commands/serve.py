r"""Serves a web page that stylizes photos and a live camera, on this machine.

  fastchi serve                               # http://127.0.0.1:8080/ with the shipped styles
  fastchi serve --port 9000 --collection my_styles/   # plus every .tflite file there
  fastchi serve --host 0.0.0.0                # other machines too (a one-line warning)

The page: choose or drop a photo, pick a style (or mix two), drag the strength, download at
full size; or start the camera for live frames. Its API (POST /api/stylize, POST /api/frame,
GET /api/styles, GET /api/health) is in README. Runs .tflite models on LiteRT: the light
install (requirements-lite.txt) serves, and TensorFlow is never imported; an export's
saved_model or model.keras is served by the TFLite file beside it. Binds to
127.0.0.1 unless --host says otherwise. Ctrl-C or SIGTERM stops it.
"""

import os
import warnings

from absl import flags
from PIL import Image

from fastchi_tf import cli
from fastchi_tf.light import runtime as runtime_lib

flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
flags.DEFINE_integer("port", 8080, "Port to listen on (0: a free one).", lower_bound=0,
                     upper_bound=65535)
flags.DEFINE_string("model", None, "A .tflite model, or an export's saved_model or model.keras "
                    "with one beside it. Default: the shipped styles.")
flags.DEFINE_string("collection", None, "A folder of more .tflite models whose styles are "
                    "added to the page (a single-style model is named by its file).")
flags.DEFINE_float("max_upload_mb", 20.0, "Largest request body, in MB (413 above it).",
                   lower_bound=0.01)
flags.DEFINE_integer("max_pixels", 4096 * 4096, "Largest image, in pixels, checked from its "
                     "header before decoding (413 above it).", lower_bound=1)
flags.DEFINE_integer("workers", 2, "Requests stylized at once: one TFLite interpreter each "
                     "(1: one interpreter behind a lock).", lower_bound=1)
flags.DEFINE_integer("threads", None, "LiteRT threads per interpreter (default: the cores "
                     "divided among the workers).", lower_bound=1)
flags.DEFINE_enum("runtime", "auto", runtime_lib.RUNTIMES, "What runs the models: always "
                  "TFLite on LiteRT here (auto and tflite); tf is refused.")

FLAGS = flags.FLAGS


def main(argv):
  del argv
  # (starlette and the server only to serve: --help, answered before main, needs none)
  from fastchi_tf import serve
  from fastchi_tf import serve_engine
  from fastchi_tf.jobs import serve as serve_job
  # --max_pixels is the limit; Pillow's warning above its own (89 megapixels) is noise.
  warnings.simplefilter("ignore", Image.DecompressionBombWarning)
  threads = FLAGS.threads or max(1, (os.cpu_count() or 1) // FLAGS.workers)
  config = serve.ServeConfig(
      host=FLAGS.host, port=FLAGS.port, max_upload_mb=FLAGS.max_upload_mb,
      engine=serve_engine.EngineConfig(
          model=FLAGS.model or "", collection=FLAGS.collection or "", workers=FLAGS.workers,
          threads=threads, max_pixels=FLAGS.max_pixels))
  server = serve_job.open_server(config, FLAGS.runtime)
  if server.warning:
    cli.warn(server.warning)
  print(f"fastchi serve: {server.url}  ({len(server.engine.names)} styles, "
        f"{config.engine.workers} worker(s) x {threads} thread(s); Ctrl-C stops)", flush=True)
  serve_job.run(server)
