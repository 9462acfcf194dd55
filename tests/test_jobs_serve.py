"""`fastchi serve`'s job in-process: the socket and the models, and what cannot be used.
(Serving itself is tests/test_serve.py's.)"""

import socket

import pytest

from fastchi_tf import cli
from fastchi_tf import serve
from fastchi_tf import serve_engine
from fastchi_tf.jobs import serve as serve_job


def _config(**engine):
  return serve.ServeConfig(port=0, engine=serve_engine.EngineConfig(workers=1, threads=1,
                                                                    **engine))


def test_the_shipped_styles_are_loaded_on_a_free_port():
  server = serve_job.open_server(_config())
  try:
    assert len(server.engine.names) == 6
    assert server.url.startswith("http://127.0.0.1:") and server.warning is None
  finally:
    server.sock.close()


def test_a_busy_port_or_a_bad_model_is_a_usage_error(tmp_path):
  (tmp_path / "photo.tflite").write_bytes(b"\0" * 64)
  with pytest.raises(cli.UsageError, match="is not a TFLite model"):
    serve_job.open_server(_config(model=str(tmp_path / "photo.tflite")))
  busy = socket.socket()
  busy.bind(("127.0.0.1", 0))
  busy.listen()
  try:
    port = busy.getsockname()[1]
    with pytest.raises(cli.UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
      serve_job.open_server(serve.ServeConfig(port=port))
  finally:
    busy.close()
