"""`fastchi serve`: the web page and its API, on Starlette (routes) and uvicorn (HTTP).

  GET  /              the page; its files (fastchi_tf/web) are read once, from the package
  POST /api/stylize   multipart form: image, style, strength, preserve_color, max_size,
                      format (png or jpeg) -> the stylized image (PNG by default)
  POST /api/frame     multipart form: image (a small camera frame), style, strength,
                      preserve_color -> JPEG
  GET  /api/styles    {"styles": [{"index", "name", "thumbnail"}]} (thumbnails: data URLs)
  GET  /api/health    {"status": "ok", "model", "styles", "workers", "threads", "version"}

Errors are {"error": "one line"} with a 4xx status (5xx only for a bug), never a
traceback. Model calls run in worker threads, at most `workers` at once (the engine has one
interpreter per worker); the event loop only parses forms and moves bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
import socket
from typing import Awaitable, Callable, Optional

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fastchi_tf import cli
from fastchi_tf import serve_engine
from fastchi_tf.serve_engine import RequestError

PAGE = {"/": ("index.html", "text/html; charset=utf-8"),
        "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
        "/static/steady.js": ("steady.js", "text/javascript; charset=utf-8"),
        "/static/style.css": ("style.css", "text/css; charset=utf-8")}
# The page loads only its own files; images are blob: or data: URLs made by its script.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                "media-src 'self' blob: mediastream:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
RETRY_AFTER = "2"  # seconds, with every 503 (busy)
MAX_FIELD_BYTES = 4096  # a form's text fields (style, strength ...) are short
TRUE, FALSE = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")


@dataclasses.dataclass(frozen=True)
class ServeConfig:
  """The server's settings; `engine` says what runs and how many at once."""
  host: str = "127.0.0.1"
  port: int = 8080
  max_upload_mb: float = 20.0  # larger request bodies get 413 before they are read
  # Uploads admitted at once (being read, waiting or running); more get 503 and Retry-After
  # before their body is read. Each holds its body once (<= max_upload_mb): 16 x 20 MB.
  max_uploads: int = 16
  max_waiting: int = 64  # requests waiting for a free interpreter; more get 503
  engine: serve_engine.EngineConfig = dataclasses.field(
      default_factory=serve_engine.EngineConfig)


class _Worker:
  """Runs model calls in threads, `workers` at once, with a bounded queue before them."""

  def __init__(self, workers: int, max_waiting: int) -> None:
    self.workers, self.max_waiting = workers, max_waiting
    self.waiting = 0  # touched by the event loop's thread only
    self._limiter = None

  async def __call__(self, fn: Callable[[], object]):
    if self._limiter is None:  # made inside the running loop, as anyio wants
      self._limiter = anyio.CapacityLimiter(self.workers)
    if self.waiting >= self.max_waiting + self.workers:
      raise RequestError("the server is busy; try again in a moment", 503)
    self.waiting += 1
    try:
      return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
    finally:
      self.waiting -= 1


def build_app(engine: serve_engine.Engine, config: ServeConfig = ServeConfig()) -> Starlette:
  """The Starlette application over a loaded engine (whose config gives the pixel limits and
  the workers; `config` the upload limit)."""
  limit = int(config.max_upload_mb * 1024 * 1024)
  # python-multipart logs a warning per malformed form ("Expected boundary character ..."),
  # which is answered with a 400 line anyway: nothing on the console.
  logging.getLogger("python_multipart").setLevel(logging.ERROR)
  limits = engine.config
  worker = _Worker(limits.workers, config.max_waiting)
  admitted = _Admission(config.max_uploads)
  pages = {path: (serve_engine.web_file(name), kind) for path, (name, kind) in PAGE.items()}

  async def page(request: Request) -> Response:
    body, kind = pages[request.url.path]
    return Response(body, media_type=kind, headers=PAGE_HEADERS)

  @_json_errors
  async def health(request: Request) -> Response:
    del request
    return JSONResponse(dict(status="ok", **engine.describe()), headers=API_HEADERS)

  @_json_errors
  async def styles(request: Request) -> Response:
    del request
    thumbnails = await worker(engine.thumbnails)
    return JSONResponse({"styles": [{"index": i, "name": n, "thumbnail": thumbnails[n]}
                                    for i, n in enumerate(engine.names)]},
                        headers=API_HEADERS)

  @_json_errors
  async def stylize(request: Request) -> Response:
    with admitted:  # before the body is read
      upload, fields = await _read_form(request, limit)
      fmt = fields.get("format", "png").strip().lower() or "png"
      if fmt not in serve_engine.OUTPUT_FORMATS:
        raise RequestError(f"format must be png or jpeg, got {fmt!r}")
      options = _options(engine, fields)
      max_size = _number(fields, "max_size", None, int, 1, None)

      def work():
        image, alpha = serve_engine.decode(upload.pop(), limits.max_pixels)  # bytes dropped
        out = engine.run(image, max_size=max_size, **options)
        if alpha is not None and max_size:
          alpha = serve_engine.stylize.downscale(alpha, max_size)
        return serve_engine.encode(out, alpha, fmt)

      body = await worker(work)
    return Response(body, media_type=serve_engine.OUTPUT_FORMATS[fmt][1], headers=API_HEADERS)

  @_json_errors
  async def frame(request: Request) -> Response:
    with admitted:
      upload, fields = await _read_form(request, limit)
      options = _options(engine, fields)

      def work():
        image, _ = serve_engine.decode(upload.pop(), limits.max_frame_pixels)
        out = engine.run(image, **options)
        return serve_engine.encode(out, None, "jpeg", quality=serve_engine.FRAME_QUALITY)

      body = await worker(work)
    return Response(body, media_type="image/jpeg", headers=API_HEADERS)

  routes = [Route(path, page) for path in PAGE]
  routes += [Route("/api/health", health), Route("/api/styles", styles),
             Route("/api/stylize", stylize, methods=["POST"]),
             Route("/api/frame", frame, methods=["POST"])]
  return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


class _Admission:
  """Counts the uploads in flight, from before their body is read to their answer (touched by
  the event loop's thread only); past `limit`, RequestError 503 at once."""

  def __init__(self, limit: int) -> None:
    self.limit, self.count = limit, 0

  def __enter__(self):
    if self.count >= self.limit:
      raise RequestError("the server is busy with other uploads; try again in a moment", 503)
    self.count += 1
    return self

  def __exit__(self, *exc):
    self.count -= 1


def _error(message: str, status: int) -> JSONResponse:
  headers = dict(API_HEADERS, **({"Retry-After": RETRY_AFTER} if status == 503 else {}))
  return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
  del request
  return _error(f"{exc.status_code} {exc.detail}", exc.status_code)  # 404, 405


def _json_errors(route: Callable[[Request], Awaitable[Response]]):
  """Request errors as their status and one JSON line; anything else as a 500 line on the
  console and to the client, not a traceback: the server keeps serving."""
  @functools.wraps(route)
  async def guarded(request: Request) -> Response:
    try:
      return await route(request)
    except RequestError as e:
      return _error(str(e), e.status)
    except ClientDisconnect:  # gone mid-upload: nobody to answer, nothing to report
      return _error("the client disconnected", 400)
    except MemoryError:
      cli.warn(f"{request.url.path}: out of memory")
      return _error("out of memory; send a smaller image (max_size)", 503)
    except Exception as e:  # noqa: BLE001  (a bug: named in one line, the server goes on)
      message = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
      cli.warn(f"{request.url.path}: internal error: {message}")
      return _error(f"internal error: {message}", 500)
  return guarded


class _TooLarge(Exception):
  """Raised into the form parser when the body passes the limit (which closes, so removes,
  its spooled files on any exception)."""


async def _read_form(request: Request, limit: int) -> tuple[list, dict]:
  """([image bytes], text fields) of a multipart form of at most `limit` bytes; 413 for more,
  known from Content-Length or found while reading. The body streams into the form parser
  (which spools a file part past 1 MB to an unlinked temp file) and the image is read from
  it once: one copy of the upload in memory, not the chunks, their join and the copy. (The
  list: whoever decodes pops the bytes, so they are not held beside the decoded image.)"""
  too_large = f"the upload is over the limit of {limit / 2**20:g} MB (--max_upload_mb)"
  length = request.headers.get("content-length", "")
  if length.isdigit() and int(length) > limit:
    raise RequestError(too_large, 413)
  if not request.headers.get("content-type", "").startswith("multipart/form-data"):
    raise RequestError("send a multipart/form-data form with the image in its 'image' field")
  size = 0

  async def receive():  # the client's body, counted as it streams to the parser
    nonlocal size
    message = await request.receive()
    size += len(message.get("body", b""))
    if size > limit:
      raise _TooLarge(too_large)
    return message

  try:
    async with Request(request.scope, receive).form(
        max_files=1, max_fields=16, max_part_size=MAX_FIELD_BYTES) as form:
      image = form.get("image")
      if image is None or isinstance(image, str):
        raise RequestError("the form has no image file in its 'image' field")
      data = await image.read()  # (a spooled temp file, closed and so removed on exit)
      fields = {k: v for k, v in form.items() if isinstance(v, str)}
  except _TooLarge as e:
    raise RequestError(str(e), 413) from None
  except MultiPartException as e:
    raise RequestError(f"bad multipart form: {e.message}") from None
  except HTTPException as e:  # the parser's limits: too many files or fields
    raise RequestError(f"bad multipart form: {e.detail}", e.status_code) from None
  return [data], fields


def _options(engine: serve_engine.Engine, fields: dict) -> dict:
  """engine.run's style, strength and preserve_color from a form (style: the first style
  when absent)."""
  preserve = fields.get("preserve_color", "").strip().lower()
  if preserve not in TRUE + FALSE:
    raise RequestError(f"preserve_color must be true or false, got {preserve!r}")
  return dict(choice=engine.choose(fields.get("style", "").strip() or "0"),
              strength=_number(fields, "strength", 1.0, float, 0.0, 1.0),
              preserve_color=preserve in TRUE)


def _number(fields, name, default, kind, low, high):
  text = fields.get(name, "").strip()
  if not text:
    return default
  try:
    value = kind(text)
  except ValueError:
    value = None
  if value is None or value != value or (low is not None and value < low) or (
      high is not None and value > high):
    bounds = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
    raise RequestError(f"{name} must be a {kind.__name__} {bounds}, got {text!r}")
  return value


def listen(host: str, port: int) -> socket.socket:
  """A listening socket on host:port (port 0: a free one); OSError if it cannot bind."""
  family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
  sock = socket.socket(family, kind, proto)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    sock.bind(address)
    sock.listen(128)
  except OSError:
    sock.close()
    raise
  return sock


def url(sock: socket.socket, host: str) -> str:
  port = sock.getsockname()[1]
  return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def exposed_warning(host: str) -> Optional[str]:
  """The one line printed when the server listens beyond this machine, or None."""
  if host in LOOPBACK or host.startswith("127."):
    return None
  return (f"warning: listening on {host}: anyone who can reach this machine can use the "
          "server (no login); the camera works only on localhost or https")


def run(app: Starlette, sock: socket.socket) -> None:
  """Serves until Ctrl-C, SIGTERM or SIGHUP, then returns after in-flight requests end
  (at most a few seconds); the signal is raised again, as KeyboardInterrupt, after."""
  import uvicorn  # only to serve: building the app (the tests, bench_serve) needs none
  server = uvicorn.Server(uvicorn.Config(
      app, log_level="warning", access_log=False, lifespan="off", server_header=False,
      timeout_graceful_shutdown=5))
  # uvicorn takes SIGINT and SIGTERM for a graceful stop; SIGHUP (a closed terminal) too.
  previous = signal.signal(signal.SIGHUP, lambda *_: server.handle_exit(signal.SIGINT, None))
  try:
    server.run(sockets=[sock])
  finally:
    signal.signal(signal.SIGHUP, previous)
