"""fastchi serve under load: photos per second, latency and live frames/s, against the CLI.

The real command on loopback, started once per setup: 8 clients, each on its own keep-alive
connection, post 640x480 JPEG photos (6 scikit-image photos in turn) to /api/stylize for
`seconds` and measure requests/s and p50/p95 latency (a request from being sent to its PNG
read whole); then 1 and 4 live clients each post 320x240 JPEG frames to /api/frame, one in
flight per client, as the page does. Every response must be 200: failures are counted and
reported. Two setups of the same 2 cores: a pool of 2 interpreters of 1 thread each (the
default), and 1 interpreter of 2 threads behind a lock (--workers 1). Against the command
line: `fastchi stylize` on a folder of the same photos (one process, throughput), and on one
photo from a cold start (what a user waits for per photo without a server).

Command: python -m experiments.bench.bench_serve [--quick]
Then, per setup, live frames while
one client stylizes a 1600x1200 photo again and again: the frames' round trips.
Run time on 2 CPU cores: ~8 min (--quick: 1 s per measurement and 2 photo clients, ~30 s,
most of it starting processes). Writes
experiments/results/bench_serve/.
"""

import concurrent.futures
import dataclasses
import http.client
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import numpy as np
from PIL import Image

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import samples

ROOT = reporting.REPO_ROOT


@dataclasses.dataclass(frozen=True)
class Config:
  seconds: float = runner.flag(60.0, "Seconds of photo load per setup.")
  live_seconds: float = runner.flag(30.0, "Seconds of live frames per client count.")
  clients: int = 8
  live_clients: tuple = (1, 4)
  photo_size: tuple = (640, 480)  # (width, height)
  frame_size: tuple = (320, 240)
  # (name, --workers, --threads): the same 2 cores, split or behind one lock
  setups: tuple = (("pool: 2 interpreters x 1 thread", 2, 1),
                   ("lock: 1 interpreter x 2 threads", 1, 2))
  style: str = "starry_night"
  # Live frames while a large photo is stylized (the reason for a pool): one client posts
  # this photo again and again, one live client its frames, for live_seconds.
  large_size: tuple = (1600, 1200)
  cli_photos: int = runner.flag(24, "Photos in the command line's folder run.")
  cold_runs: int = 3


FULL = Config()
QUICK = Config(seconds=1.0, live_seconds=1.0, clients=2, cli_photos=2, cold_runs=1)


def _jpeg(image, quality):
  out = io.BytesIO()
  Image.fromarray(image).save(out, format="JPEG", quality=quality)
  return out.getvalue()


def _photos(size):
  """The test photos, centre-cropped and resized to `size` (width, height), as JPEG."""
  found = []
  for name in samples.TEST_PHOTOS:
    image = Image.fromarray(samples.read_photo(name))
    w, h = image.size
    scale = max(size[0] / w, size[1] / h)
    image = image.resize((max(size[0], round(w * scale)), max(size[1], round(h * scale))),
                         Image.LANCZOS)
    left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
    found.append(_jpeg(np.asarray(image.crop((left, top, left + size[0],
                                              top + size[1]))), 90))
  return found


def _frames(size, count=30):
  """A pan over a photo, as the camera's small JPEG frames."""
  photo = samples.read_photo("astronaut.png")
  step = (photo.shape[1] - size[0]) // count
  return [_jpeg(photo[:size[1], i * step:i * step + size[0]], 80) for i in range(count)]


def _form(image, style):
  boundary = uuid.uuid4().hex
  body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"style\"\r\n\r\n{style}\r\n"
          f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
          f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
  body += image + f"\r\n--{boundary}--\r\n".encode()
  return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


class _Server:
  """`fastchi serve` in its own process, on a free loopback port."""

  def __init__(self, workers, threads):
    self.process = subprocess.Popen(
        [sys.executable, "-m", "fastchi_tf", "serve", "--port", "0", "--workers",
         str(workers), "--threads", str(threads)], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = self.process.stdout.readline()
    found = re.match(r"fastchi serve: http://127\.0\.0\.1:(\d+)/", line)
    if not found:
      self.process.kill()
      raise RuntimeError(f"fastchi serve did not start: {line}{self.process.stderr.read()}")
    self.port = int(found.group(1))

  def stop(self):
    self.process.send_signal(signal.SIGTERM)
    _, err = self.process.communicate(timeout=60)
    return self.process.returncode, err.strip()


def _load(port, route, bodies, clients, seconds):
  """`clients` threads posting `bodies` in turn until `seconds` pass, one request in flight
  each: (latencies in s of the 200s, failures, wall seconds)."""
  deadline = time.perf_counter() + seconds
  latencies, failures, lock = [], [], threading.Lock()

  def client(index):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i = index
    while time.perf_counter() < deadline:
      body, headers = bodies[i % len(bodies)]
      i += 1
      start = time.perf_counter()
      try:
        connection.request("POST", route, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        ok = response.status == 200 and len(data) > 0
        problem = None if ok else f"{response.status} {data[:200]!r}"
      except (OSError, http.client.HTTPException) as e:
        problem = f"{type(e).__name__}: {e}"
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
      with lock:
        if problem:
          failures.append(problem)
        else:
          latencies.append(time.perf_counter() - start)
    connection.close()

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    list(pool.map(client, range(clients)))
  return latencies, failures, time.perf_counter() - start


def _stats(latencies, failures, seconds):
  ms = np.asarray(latencies) * 1000.0
  return {"requests": len(latencies), "failed": len(failures), "failures": failures[:5],
          "seconds": seconds, "per_second": len(latencies) / seconds,
          "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
          "p95_ms": float(np.percentile(ms, 95)) if len(ms) else None,
          "mean_ms": float(ms.mean()) if len(ms) else None,
          "max_ms": float(ms.max()) if len(ms) else None}


def _setup(cfg, name, workers, threads, photos, frames):
  server = _Server(workers, threads)
  try:
    photo_bodies = [_form(p, cfg.style) for p in photos]
    frame_bodies = [_form(f, cfg.style) for f in frames]
    # warm-up: each interpreter meets both sizes once (allocation, XNNPACK's set-up)
    _load(server.port, "/api/stylize", photo_bodies, workers, 0.1)
    _load(server.port, "/api/frame", frame_bodies, workers, 0.1)
    photo = _stats(*_load(server.port, "/api/stylize", photo_bodies, cfg.clients,
                          cfg.seconds))
    live = []
    for clients in cfg.live_clients:
      stats = _stats(*_load(server.port, "/api/frame", frame_bodies, clients,
                            cfg.live_seconds))
      live.append(dict(stats, clients=clients, frames_per_client=stats["per_second"] / clients))
    busy = _live_beside_a_large_photo(cfg, server.port, frame_bodies)
  finally:
    code, err = server.stop()
  return {"name": name, "workers": workers, "threads": threads, "photo": photo, "live": live,
          "live_beside_large": busy, "exit_code": code, "stderr": err}


def _live_beside_a_large_photo(cfg, port, frame_bodies):
  """One client posting a large photo over and over while one live client sends frames:
  the live client's round trips (a pool lets frames through; a lock queues them behind)."""
  large = [_form(p, cfg.style) for p in _photos(cfg.large_size)[:2]]
  _load(port, "/api/stylize", large[:1], 1, 0.1)  # warm-up at the large size
  found = {}

  def photos():
    found["large"] = _stats(*_load(port, "/api/stylize", large, 1, cfg.live_seconds))

  thread = threading.Thread(target=photos)
  thread.start()
  time.sleep(0.5)  # the first large photo is being stylized
  live = _stats(*_load(port, "/api/frame", frame_bodies, 1, cfg.live_seconds - 0.5))
  thread.join()
  return {"live": live, "large": found["large"]}


def _cli(cfg, photos):
  """`fastchi stylize` on a folder of cfg.cli_photos photos, and on one photo cold."""
  scratch = tempfile.mkdtemp(prefix="fastchi-bench-serve-")
  try:
    folder = os.path.join(scratch, "photos")
    os.makedirs(folder)
    for i in range(cfg.cli_photos):
      with open(os.path.join(folder, f"{i:03d}.jpg"), "wb") as f:
        f.write(photos[i % len(photos)])

    def run(source, output):
      start = time.perf_counter()
      subprocess.run([sys.executable, "-m", "fastchi_tf", "stylize", "--input", source,
                      "--output", output, "--style", cfg.style], cwd=ROOT, check=True,
                     capture_output=True, timeout=3600)
      return time.perf_counter() - start

    folder_seconds = run(folder, os.path.join(scratch, "out"))
    cold = [run(os.path.join(folder, "000.jpg"), os.path.join(scratch, f"one{i}.png"))
            for i in range(cfg.cold_runs)]
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  return {"folder_photos": cfg.cli_photos, "folder_seconds": folder_seconds,
          "folder_per_second": cfg.cli_photos / folder_seconds,
          "cold_seconds": cold, "cold_median_seconds": reporting.median(cold)}


def run(cfg, out_dir):
  del out_dir
  photos = _photos(cfg.photo_size)
  frames = _frames(cfg.frame_size)
  setups = [_setup(cfg, name, workers, threads, photos, frames)
            for name, workers, threads in cfg.setups]
  return {"setups": setups, "cli": _cli(cfg, photos)}


def _ms(value):
  return "-" if value is None else f"{value:.0f}"


def report(summary, out_dir):
  del out_dir
  cfg, cli = summary["config"], summary["cli"]
  size = "x".join(map(str, cfg["photo_size"]))
  frame = "x".join(map(str, cfg["frame_size"]))
  photo_rows = [[s["name"], f"{s['photo']['per_second']:.2f}", _ms(s["photo"]["p50_ms"]),
                 _ms(s["photo"]["p95_ms"]), str(s["photo"]["requests"]),
                 str(s["photo"]["failed"])] for s in summary["setups"]]
  live_rows = [[s["name"], str(l["clients"]), f"{l['per_second']:.2f}",
                f"{l['frames_per_client']:.2f}", _ms(l["mean_ms"]), _ms(l["p95_ms"]),
                str(l["failed"])] for s in summary["setups"] for l in s["live"]]
  failures = [f for s in summary["setups"]
              for f in s["photo"]["failures"] + [x for l in s["live"] for x in l["failures"]]
              + [x for k in ("live", "large") for x in
                 s.get("live_beside_large", {}).get(k, {}).get("failures", [])]]
  lines = [
      "# fastchi serve under load",
      "",
      f"The real command on loopback. Photos: {cfg['clients']} clients, each with one "
      f"request in flight on a keep-alive connection, post {size} JPEG photos (6, in turn) "
      f"for {cfg['seconds']:g} s; latency is from sending to the PNG read whole. Live: "
      f"{frame} JPEG frames to /api/frame for {cfg['live_seconds']:g} s, one in flight per "
      f"client, as the page sends them. Style {cfg['style']}.",
      "",
      reporting.machine_line(summary["machine"]) + " (the machine was shared with other "
      "jobs: read the numbers as ratios)." + (" Quick settings." if summary["quick"] else ""),
      "",
      f"## Photos ({size}, {cfg['clients']} clients)",
      "",
      reporting.markdown_table(["setup", "requests/s", "p50 ms", "p95 ms", "requests",
                                "failed"], photo_rows),
      "",
      f"## Live frames ({frame})",
      "",
      reporting.markdown_table(["setup", "clients", "frames/s (all)", "frames/s per client",
                                "mean round trip ms", "p95 ms", "failed"], live_rows),
      "",
      f"## Live frames while a large photo is stylized",
      "",
      f"One client posts a {'x'.join(map(str, cfg['large_size']))} photo again and again "
      f"while one live client sends {frame} frames, for {cfg['live_seconds']:g} s.",
      "",
      reporting.markdown_table(
          ["setup", "live frames/s", "p50 round trip ms", "p95 ms", "max ms",
           "large photos done", "large p50 ms", "failed"],
          [[s["name"], f"{b['live']['per_second']:.2f}", _ms(b["live"]["p50_ms"]),
            _ms(b["live"]["p95_ms"]), _ms(b["live"].get("max_ms")),
            str(b["large"]["requests"]), _ms(b["large"]["p50_ms"]),
            str(b["live"]["failed"] + b["large"]["failed"])]
           for s in summary["setups"] for b in [s.get("live_beside_large")] if b]),
      "",
      "## The command line, on the same photos",
      "",
      reporting.markdown_table(
          ["run", "photos", "seconds", "photos/s"],
          [[f"`fastchi stylize` on a folder (one process)", str(cli["folder_photos"]),
            f"{cli['folder_seconds']:.1f}", f"{cli['folder_per_second']:.2f}"],
           ["`fastchi stylize` on one photo, cold (median)", "1",
            f"{cli['cold_median_seconds']:.2f}", f"{1 / cli['cold_median_seconds']:.2f}"]]),
      "",
      "## Reading",
      "",
      _reading(summary),
      "",
      "Failed requests: " + (f"{len(failures)}: " + "; ".join(failures[:3])
                             if failures else "none.")
      + " The server stopped on SIGTERM with status "
      + ", ".join(str(s["exit_code"]) for s in summary["setups"]) + ".",
      "",
  ]
  return "\n".join(lines)


def _reading(summary):
  """The ratios the tables imply, in words."""
  cfg, cli = summary["config"], summary["cli"]
  first, *rest = summary["setups"]
  photo = first["photo"]
  text = (f"With {cfg['clients']} clients the latency is mostly queueing: {cfg['clients']} "
          f"requests / {photo['per_second']:.2f} per second = "
          f"{cfg['clients'] / photo['per_second']:.1f} s, against a p50 of "
          f"{photo['p50_ms'] / 1000:.1f} s. The server's {photo['per_second']:.2f} photos/s "
          f"are {photo['per_second'] / cli['folder_per_second']:.2f}x what "
          f"`fastchi stylize` makes of a folder in one process, and each request spares the "
          f"{cli['cold_median_seconds']:.1f} s of a cold start per photo.")
  if rest:
    other = rest[0]
    live = {l["clients"]: l["per_second"] for l in other["live"]}
    ratios = [f"photos {photo['per_second'] / other['photo']['per_second']:.2f}x"] + [
        f"live with {l['clients']} client{'s' if l['clients'] > 1 else ''} "
        f"{l['per_second'] / live[l['clients']]:.2f}x" for l in first["live"]
        if live.get(l["clients"])]
    text += (f" {first['name'].split(':')[0].capitalize()} against "
             f"{other['name'].split(':')[0]}: " + ", ".join(ratios) + ".")
    mine, theirs = first.get("live_beside_large"), other.get("live_beside_large")
    if mine and theirs and mine["live"]["p50_ms"] and theirs["live"]["p50_ms"]:
      text += (f" While a large photo is stylized, live frames round-trip in "
               f"{mine['live']['p50_ms']:.0f} ms (p50; p95 {mine['live']['p95_ms']:.0f}) with "
               f"the {first['name'].split(':')[0]} against {theirs['live']['p50_ms']:.0f} ms "
               f"(p95 {theirs['live']['p95_ms']:.0f}) with the {other['name'].split(':')[0]}, "
               f"{mine['live']['per_second']:.2f} against "
               f"{theirs['live']['per_second']:.2f} frames/s.")
  return text


def finding(summary):
  pool, *others = summary["setups"]
  live = {l["clients"]: l for l in pool["live"]}
  text = (f"{pool['photo']['per_second']:.2f} photos/s at 640x480 with 8 clients (p50 "
          f"{_ms(pool['photo']['p50_ms'])} ms, p95 {_ms(pool['photo']['p95_ms'])} ms)")
  if others:
    text += f"; one interpreter behind a lock: {others[0]['photo']['per_second']:.2f}"
  text += (f"; live 320x240: {live[1]['per_second']:.1f} frames/s for one client, "
           f"{live[4]['per_second']:.1f} in all for four" if 1 in live and 4 in live else "")
  busy = [s.get("live_beside_large") for s in summary["setups"]]
  if len(busy) > 1 and all(b and b["live"]["p50_ms"] for b in busy[:2]):
    text += (f"; beside a {'x'.join(map(str, summary['config']['large_size']))} photo: live "
             f"p50 {_ms(busy[0]['live']['p50_ms'])} ms (pool) against "
             f"{_ms(busy[1]['live']['p50_ms'])} ms (lock)")
  failed = sum(s["photo"]["failed"] + sum(l["failed"] for l in s["live"])
               for s in summary["setups"])
  text += (f"; fastchi stylize on a folder: {summary['cli']['folder_per_second']:.2f} "
           f"photos/s; {failed} failed requests")
  return text


if __name__ == "__main__":
  runner.main(__name__)
