"""fastchi serve: every route through Starlette's test client, and the command itself in a
process where TensorFlow cannot be imported. Small images: seconds in all."""

import concurrent.futures
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from fastchi_tf import samples
from fastchi_tf import serve
from fastchi_tf import serve_engine
from fastchi_tf import shipped
from fastchi_tf import stylize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ("composition_vii", "starry_night", "the_scream", "the_shipwreck_of_the_minotaur",
           "udnie", "wave")
LIMITS = serve_engine.EngineConfig(workers=2, threads=1, max_pixels=512 * 512,
                                   max_frame_pixels=320 * 240)
CONFIG = serve.ServeConfig(max_upload_mb=1.0, engine=LIMITS)


@pytest.fixture(scope="module")
def engine():
  return serve_engine.Engine(LIMITS)


@pytest.fixture(scope="module")
def client(engine):
  with TestClient(serve.build_app(engine, CONFIG)) as test_client:
    yield test_client


def encoded(image, fmt="PNG", **options):
  out = io.BytesIO()
  Image.fromarray(image).save(out, format=fmt, **options)
  return out.getvalue()


@pytest.fixture(scope="module")
def photo():
  return samples.read_photo("chelsea.png", 96)  # 96x63


def decoded(response):
  assert response.status_code == 200, response.text
  return np.asarray(Image.open(io.BytesIO(response.content)))


def post(client, route="/api/stylize", image=b"", **fields):
  return client.post(route, files={"image": ("photo", image)},
                     data={k: str(v) for k, v in fields.items()})


def error(response, status):
  """The one-line JSON error of a refused request."""
  assert response.status_code == status, response.text
  message = response.json()["error"]
  assert message and "\n" not in message and "Traceback" not in message
  return message


def test_the_page_and_its_files_with_the_documented_ids(client):
  page = client.get("/")
  assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
  for name in ("photo", "style", "strength", "result", "download", "live", "steady", "fps"):
    assert f'id="{name}"' in page.text, name
  assert "default-src 'self'" in page.headers["content-security-policy"]
  for script in ("app.js", "steady.js"):
    assert client.get(f"/static/{script}").headers["content-type"].startswith(
        "text/javascript")
  assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/static/../serve.py", "/static/%2e%2e/serve.py",
                                  "/static/thumbnail.jpg", "/web/index.html", "/etc/passwd",
                                  "/static/", "/static/app.js/..%2f..%2fshipped"])
def test_no_path_leads_from_a_request_to_the_file_system(client, path):
  error(client.get(path), 404)


def test_health_and_styles(client):
  health = client.get("/api/health").json()
  assert health["status"] == "ok" and tuple(health["styles"]) == SHIPPED
  assert (health["model"], health["workers"], health["threads"]) == (
      shipped.TFLITE_FILE, 2, 1)
  assert health["version"]
  found = client.get("/api/styles").json()["styles"]
  assert [s["name"] for s in found] == list(SHIPPED)
  assert [s["index"] for s in found] == list(range(6))
  for style in found:
    head, data = style["thumbnail"].split(",", 1)
    assert head == "data:image/jpeg;base64"
    import base64
    assert Image.open(io.BytesIO(base64.b64decode(data))).size == (128, 128)


def test_unknown_routes_and_methods_are_json_errors(client):
  assert error(client.get("/api/nothing"), 404) == "404 Not Found"
  error(client.get("/api/stylize"), 405)
  error(client.post("/api/health"), 405)


def test_stylize_returns_png_by_default_jpeg_if_asked_and_honours_max_size(client, photo):
  response = post(client, image=encoded(photo), style="wave")
  assert response.headers["content-type"] == "image/png"
  assert decoded(response).shape == photo.shape
  response = post(client, image=encoded(photo), style="1", format="jpeg")
  assert response.headers["content-type"] == "image/jpeg"
  assert decoded(response).shape == photo.shape
  assert decoded(post(client, image=encoded(photo), style="wave", max_size=48)).shape == (
      32, 48, 3)


def test_a_mix_through_the_api_equals_the_command_line(client, photo, tmp_path):
  source, output = tmp_path / "photo.png", tmp_path / "out.png"
  Image.fromarray(photo).save(source)
  mix = "starry_night:0.6,wave:0.4"
  subprocess.run([sys.executable, "-m", "fastchi_tf", "stylize", "--input", str(source),
                  "--output", str(output), "--style", mix, "--strength", "0.7",
                  "--preserve_color"], check=True, capture_output=True, timeout=120)
  response = post(client, image=source.read_bytes(), style=mix, strength=0.7,
                  preserve_color="true")
  assert np.array_equal(decoded(response), np.asarray(Image.open(output)))
  # and the library function the command uses, by index and without colour
  stylizer = shipped.load().set_style("1:0.6,5:0.4")
  expected = stylize.stylize_image(stylizer, photo)
  assert np.array_equal(decoded(post(client, image=encoded(photo), style="1:0.6,5:0.4")),
                        expected)


def test_exif_orientation_is_honoured(client, photo):
  exif = Image.Exif()
  exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
  data = encoded(photo, "JPEG", quality=95, exif=exif.tobytes())
  out = decoded(post(client, image=data, style="wave"))
  assert out.shape == (photo.shape[1], photo.shape[0], 3)


def test_transparency_is_kept_in_png(client, photo):
  alpha = np.full(photo.shape[:2], 255, np.uint8)
  alpha[:, :10] = 0
  out = decoded(post(client, image=encoded(np.dstack([photo, alpha])), style="udnie"))
  assert out.shape == photo.shape[:2] + (4,) and np.array_equal(out[..., 3], alpha)


def _png_header(width, height):
  """A PNG that claims width x height pixels but holds none: what a bomb's header says."""
  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data))
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                            0, 0, 0))
          + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_broken_and_foreign_files_are_400_and_the_server_goes_on(client, photo):
  tiff = encoded(photo, "TIFF")
  for data, words in [(b"", "empty"), (b"not an image at all", "not an image"),
                      (encoded(photo)[:300], "cannot read"), (tiff, "not one of"),
                      (_png_header(40, 30), "cannot read")]:
    assert words in error(post(client, image=data, style="wave"), 400), words
  assert "image" in error(client.post("/api/stylize", data={"style": "wave"}), 400)
  assert "multipart" in error(client.post("/api/stylize", content=b"x"), 400)
  assert decoded(post(client, image=encoded(photo), style="wave")).shape == photo.shape


def test_oversized_uploads_and_images_are_413(client):
  big = os.urandom(int(1.2 * 2**20))
  assert "max_upload_mb" in error(post(client, image=big), 413)

  def chunks():  # no Content-Length: counted while read
    for _ in range(12):
      yield b"x" * 100_000
  response = client.post("/api/stylize", content=chunks(),
                         headers={"content-type": "multipart/form-data; boundary=b"})
  assert "max_upload_mb" in error(response, 413)
  # 600x600 of one colour is a few kB of PNG: refused from its header, never decoded
  flat = encoded(np.zeros((600, 600, 3), np.uint8))
  assert len(flat) < 20_000
  assert "600x600 pixels is over the limit" in error(post(client, image=flat), 413)
  # past Pillow's own limit it refuses in Image.open, as a bomb: 413 too
  assert "decompression bomb" in error(post(client, image=_png_header(60000, 60000)), 413)


def _deleted_open_files():
  """This process's open files that are unlinked: where a spooled upload goes on Linux
  (tempfile.TemporaryFile), which no folder listing can see."""
  found = set()
  for fd in os.listdir("/proc/self/fd"):
    try:
      target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # closed meanwhile (the listing's own descriptor)
      continue
    if target.endswith(" (deleted)"):
      found.add((fd, target))
  return found


def test_uploads_leave_no_file_behind(engine):
  """An upload past the form parser's 1 MB in memory goes to a temporary file (unlinked at
  once, so held only by its descriptor), closed with the request; two files in one form are
  refused, and an upload cut by the size limit leaves no file either."""
  noise = np.random.default_rng(0).integers(0, 256, (720, 720, 3), np.uint8)
  data = encoded(noise)
  assert 2**20 < len(data) < 3 * 2**20
  before = _deleted_open_files()
  config = serve.ServeConfig(max_upload_mb=3.0, engine=LIMITS)
  with TestClient(serve.build_app(engine, config)) as roomy:
    assert "720x720" in error(post(roomy, image=data, style="wave"), 413)
    assert _deleted_open_files() - before == set()
    two = roomy.post("/api/stylize", files={"image": ("p.png", b"x"), "more": ("q", b"y")})
    assert "Too many files" in error(two, 400)

    def chunks():  # no Content-Length: the image spooled until the limit is found
      yield (b'--b\r\nContent-Disposition: form-data; name="image"; filename="p"\r\n'
             b"\r\n")
      for _ in range(3):
        yield data
    response = roomy.post("/api/stylize", content=chunks(), headers={
        "content-type": "multipart/form-data; boundary=b"})
    assert "max_upload_mb" in error(response, 413)
    assert _deleted_open_files() - before == set()
  assert _deleted_open_files() - before == set()


@pytest.mark.parametrize("fields,words", [
    ({"style": "nope"}, "unknown style 'nope'"),
    ({"style": "9"}, "out of range"),
    ({"style": "wave:-1"}, "non-negative"),
    ({"style": "wave", "strength": "2"}, "strength must be a float from 0 to 1"),
    ({"style": "wave", "strength": "nan"}, "strength"),
    ({"style": "wave", "preserve_color": "maybe"}, "preserve_color"),
    ({"style": "wave", "max_size": "0"}, "max_size must be a int at least 1"),
    ({"style": "wave", "format": "gif"}, "format must be png or jpeg"),
])
def test_bad_choices_are_one_line_400s(client, photo, fields, words):
  assert words in error(post(client, image=encoded(photo), **fields), 400)


def test_live_frames_are_jpeg_and_small(client):
  frame = samples.read_photo("astronaut.png")[:240, :320]
  response = post(client, "/api/frame", encoded(frame, "JPEG", quality=80), style="udnie",
                  strength=0.5)
  assert response.headers["content-type"] == "image/jpeg"
  assert decoded(response).shape == (240, 320, 3)
  large = np.zeros((480, 640, 3), np.uint8)
  assert "over the limit" in error(post(client, "/api/frame", encoded(large, "JPEG")), 413)


def test_concurrent_requests_give_what_sequential_ones_give(client):
  photos = [samples.read_photo(name, 80) for name in ("astronaut.png", "coffee.png")]
  jobs = [(photos[i % 2], style) for i, style in enumerate(
      ["wave", "udnie", "starry_night:0.5,the_scream:0.5", "0", "wave", "udnie"])]

  def run(job):
    image, style = job
    return decoded(post(client, image=encoded(image), style=style))

  sequential = [run(job) for job in jobs]
  with concurrent.futures.ThreadPoolExecutor(6) as pool:
    concurrent_ = list(pool.map(run, jobs))
  for one, other in zip(sequential, concurrent_):
    assert np.array_equal(one, other)


def test_an_internal_error_is_one_line_and_the_server_goes_on(engine, photo, monkeypatch):
  with TestClient(serve.build_app(engine, CONFIG)) as fresh:
    def broken(*args, **kwargs):
      raise RuntimeError("the model fell over\nsecond line")
    monkeypatch.setattr(engine, "run", broken)
    assert error(post(fresh, image=encoded(photo), style="wave"), 500) == (
        "internal error: RuntimeError: the model fell over")
    monkeypatch.undo()
    assert decoded(post(fresh, image=encoded(photo), style="wave")).shape == photo.shape


def test_binding_beyond_this_machine_warns_in_one_line():
  for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
    assert serve.exposed_warning(host) is None
  warning = serve.exposed_warning("0.0.0.0")
  assert warning.startswith("warning: listening on 0.0.0.0") and "\n" not in warning


# The command, in a process where importing TensorFlow or Keras fails: the serve path must
# not need them (the light install).
_NO_TENSORFLOW = """
import runpy, sys
class Blocked:
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in ("tensorflow", "keras"):
      raise ModuleNotFoundError(f"blocked in this test: {name}", name=name)
sys.meta_path.insert(0, Blocked())
sys.argv = ["fastchi"] + sys.argv[1:]
runpy.run_module("fastchi_tf", run_name="__main__")
"""


def _start(*flags):
  return subprocess.Popen([sys.executable, "-c", _NO_TENSORFLOW, "serve", *flags],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_command_serves_without_tensorflow_and_stops_cleanly(photo, stop):
  import httpx2 as httpx
  process = _start("--port", "0", "--workers", "1")
  try:
    line = process.stdout.readline()
    found = re.match(r"fastchi serve: (http://127\.0\.0\.1:\d+/) ", line)
    assert found, line + process.stderr.read()
    url = found.group(1)
    assert httpx.get(url + "api/health", timeout=30).json()["styles"] == list(SHIPPED)
    response = httpx.post(url + "api/stylize", files={"image": ("p.png", encoded(photo))},
                          data={"style": "wave"}, timeout=60)
    assert decoded(response).shape == photo.shape
    process.send_signal(stop)
    _, err = process.communicate(timeout=30)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 130, err
  assert err.strip().splitlines() == ["fastchi serve: interrupted; the server stopped"]


@pytest.mark.parametrize("flags,words", [
    (["--model", "missing.tflite"], "model not found: missing.tflite"),
    (["--model", "model.keras"], "fastchi serve runs .tflite models"),
    (["--collection", "/nonexistent"], "is not a folder"),
    (["--port", "70000"], "--port"),
])
def test_bad_flags_are_one_line_and_status_2(flags, words):
  process = _start(*flags)
  out, err = process.communicate(timeout=60)
  assert process.returncode == 2 and out == "", err
  assert len(err.strip().splitlines()) == 1 and words in err, err


def test_a_port_in_use_is_one_line_and_status_2():
  taken = serve.listen("127.0.0.1", 0)
  try:
    process = _start("--port", str(taken.getsockname()[1]))
    _, err = process.communicate(timeout=60)
  finally:
    taken.close()
  assert process.returncode == 2 and "cannot listen on 127.0.0.1:" in err
  assert len(err.strip().splitlines()) == 1, err


def test_a_client_gone_mid_upload_is_not_reported_as_an_error(engine, capsys):
  import anyio
  app = serve.build_app(engine, CONFIG)
  messages = iter([{"type": "http.request", "body": b"--b\r\n", "more_body": True},
                   {"type": "http.disconnect"}])
  sent = []

  async def receive():
    return next(messages)

  async def send(message):
    sent.append(message)

  scope = {"type": "http", "method": "POST", "path": "/api/stylize", "query_string": b"",
           "headers": [(b"content-type", b"multipart/form-data; boundary=b")],
           "http_version": "1.1", "scheme": "http", "root_path": "",
           "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
  anyio.run(app, scope, receive, send)
  assert sent[0]["status"] == 400
  assert "internal error" not in capsys.readouterr().err


def _scope(path="/api/stylize", boundary=b"b", length=None):
  headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
  if length is not None:
    headers.append((b"content-length", str(length).encode()))
  return {"type": "http", "method": "POST", "path": path, "query_string": b"",
          "headers": headers, "http_version": "1.1", "scheme": "http", "root_path": "",
          "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}


def test_uploads_past_the_limit_in_flight_get_503_before_their_body_is_read(engine):
  """With max_uploads=1 and one upload still arriving, the next is answered 503 with
  Retry-After and a one-line error without one byte of its body read; the first then
  finishes, and a third is admitted."""
  import anyio
  app = serve.build_app(engine, serve.ServeConfig(max_upload_mb=1.0, max_uploads=1,
                                                  engine=LIMITS))
  answers, read_by_second = {}, []

  async def call(name, receive):
    sent = []

    async def send(message):
      sent.append(message)
    await app(_scope(), receive, send)
    start = sent[0]
    answers[name] = (start["status"], dict(start["headers"]), sent[1]["body"])

  async def main():
    release = anyio.Event()
    head = (b'--b\r\nContent-Disposition: form-data; name="image"; filename="p"\r\n\r\n'
            b"not an image\r\n")
    parts = iter([head, None, b"--b--\r\n"])

    async def slow_receive():  # the first upload, held mid-body until released
      part = next(parts)
      if part is None:
        await release.wait()
        part = next(parts)
      return {"type": "http.request", "body": part, "more_body": not part.endswith(b"--\r\n")}

    async def second_receive():
      read_by_second.append(1)
      return {"type": "http.request", "body": b"", "more_body": False}

    async with anyio.create_task_group() as group:
      group.start_soon(call, "first", slow_receive)
      await anyio.sleep(0.2)
      await call("second", second_receive)
      release.set()
  anyio.run(main)
  status, headers, body = answers["second"]
  assert status == 503 and headers[b"retry-after"] == serve.RETRY_AFTER.encode()
  message = json.loads(body)["error"]
  assert "busy" in message and "\n" not in message
  assert read_by_second == []
  assert answers["first"][0] == 400  # read whole: not an image
  with TestClient(app) as again:  # the count went back down
    assert "not an image" in error(post(again, image=b"not an image"), 400)


def test_an_upload_is_held_once_in_memory():
  """Reading a 6 MB form allocates about one copy of it (the image's bytes), not the
  chunks, their join and a copy (3x), measured with tracemalloc over the form's reading."""
  import anyio
  import tracemalloc
  size = 6 * 2**20
  head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="p"\r\n\r\n'
  body = head + os.urandom(size) + b"\r\n--b--\r\n"
  chunk = 64 * 1024
  offsets = iter(range(0, len(body), chunk))

  async def receive():
    start = next(offsets)
    return {"type": "http.request", "body": body[start:start + chunk],
            "more_body": start + chunk < len(body)}

  async def read():
    from starlette.requests import Request
    request = Request(_scope(length=len(body)), receive)
    tracemalloc.start()
    try:
      upload, _ = await serve._read_form(request, 2 * size)
      _, peak = tracemalloc.get_traced_memory()
    finally:
      tracemalloc.stop()
    assert len(upload[0]) == size
    return peak
  peak = anyio.run(read)
  assert peak < 1.5 * size, f"{peak / size:.2f} copies"


def test_a_malformed_form_prints_nothing_on_the_console(client, caplog):
  """python-multipart logs a warning ("Expected boundary character ...") for every malformed
  form, which the server answers anyway: none reaches the console."""
  import logging
  with caplog.at_level(logging.DEBUG):  # the root's level; the server's own level counts
    response = client.post("/api/stylize", content=b"--b\r\nX--c\r\n\r\nnot the boundary",
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert "bad multipart form" in error(response, 400)
  assert [r.getMessage() for r in caplog.records if r.name.startswith("python_multipart")] == []
