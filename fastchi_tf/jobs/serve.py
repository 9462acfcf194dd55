"""`fastchi serve`'s work: the listening socket and the loaded models, then serving.

The job is a serve.ServeConfig. `open_server(config)` binds and loads (cli.UsageError if the
address or a model cannot be used, cli.Interrupted while loading); `run(server)` serves
until Ctrl-C or SIGTERM, then raises cli.Interrupted. LiteRT only: no TensorFlow; an export's
saved_model or model.keras is served by the TFLite file beside it (runtime.choose).
"""

import dataclasses
import socket
from typing import Optional

from fastchi_tf import cli
from fastchi_tf import serve
from fastchi_tf import serve_engine
from fastchi_tf.light import runtime as runtime_lib


@dataclasses.dataclass
class Server:
  """A bound socket and a loaded engine, not serving yet."""
  config: serve.ServeConfig
  sock: socket.socket
  engine: serve_engine.Engine

  @property
  def url(self) -> str:
    return serve.url(self.sock, self.config.host)

  @property
  def warning(self) -> Optional[str]:
    """The line to print when the server listens beyond this machine, or None."""
    return serve.exposed_warning(self.config.host)


def open_server(config: serve.ServeConfig, runtime: str = "auto") -> Server:
  """Binds config.host:port (0: a free port) and loads the models of config.engine, on
  TFLite: `runtime` "auto" or "tflite" (a model's TFLite sibling), not "tf"."""
  config = with_tflite_model(config, runtime)
  try:
    sock = serve.listen(config.host, config.port)
  except OSError as e:
    raise cli.UsageError(f"cannot listen on {config.host}:{config.port}: "
                         f"{e.strerror or e}") from None
  try:
    engine = serve_engine.Engine(config.engine)
  except ValueError as e:  # (a StylizeError is one)
    sock.close()
    raise cli.UsageError(str(e)) from None
  except KeyboardInterrupt:
    sock.close()
    raise cli.Interrupted("stopped while loading the model") from None
  return Server(config, sock, engine)


def with_tflite_model(config: serve.ServeConfig, runtime: str = "auto") -> serve.ServeConfig:
  """`config` with its model replaced by the TFLite file that runs it; UsageError for
  --runtime tf or a model without one."""
  if runtime == runtime_lib.TF:
    raise cli.UsageError("--runtime tf: fastchi serve runs .tflite models only (LiteRT, no "
                         "TensorFlow); use --runtime auto or tflite")
  model = config.engine.model
  if not model or model.endswith(".tflite"):
    return config
  found = runtime_lib.tflite_sibling(model)
  if found is None:
    raise cli.UsageError(f"{model}: fastchi serve runs .tflite models (LiteRT, no TensorFlow) "
                         f"and finds no {' or '.join(runtime_lib.TFLITE_SIBLINGS)} beside "
                         "it; export one with fastchi export --tflite")
  return dataclasses.replace(config, engine=dataclasses.replace(config.engine, model=found))


def run(server: Server) -> None:
  """Serves until stopped (serve.run raises the stopping signal again, as Ctrl-C); the
  socket is closed after."""
  try:
    serve.run(serve.build_app(server.engine, server.config), server.sock)
  except KeyboardInterrupt:
    raise cli.Interrupted("the server stopped") from None
  finally:
    server.sock.close()
