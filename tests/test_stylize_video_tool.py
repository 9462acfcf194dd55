import fractions
import os
import signal
import subprocess

import pytest

from fastchi_tf import cli
from fastchi_tf import flicker
from fastchi_tf import samples
from fastchi_tf import video_io
from fastchi_tf.jobs import video as video_job
from tool_runner import last_line
from tool_runner import tool_command
from tool_runner import tool_env
import video_clips
from fixtures_models import keras_model_path as model_path  # noqa: F401  (a fixture)


def _count(path):
  return len(list(video_io.read_frames(video_io.probe(path))))


def _start(*args, env=None):
  return subprocess.Popen(tool_command("stylize_video.py", *args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env or tool_env())


def _finish(procs, timeout=300):
  """Waits for every process; returns {name: (exit status, stdout, stderr)}."""
  results = {}
  for name, proc in procs.items():
    stdout, stderr = proc.communicate(timeout=timeout)
    results[name] = (proc.returncode, stdout, stderr)
  return results


@pytest.fixture(scope="module")
def runs(model_path, tmp_path_factory):
  """The successful runs, started at once (each loads TensorFlow): {name: (status, stdout,
  stderr, output path, input path)}."""
  tmp = tmp_path_factory.mktemp("runs")
  quiet_env = tool_env()
  del quiet_env["TF_CPP_MIN_LOG_LEVEL"]  # as a user runs it: the tool keeps TensorFlow quiet
  cases = {
      "odd ntsc": (video_clips.pan_clip(tmp / "in.mp4", 33, 21, 15, "30000/1001", audio=True),
                   str(tmp / "out.mp4"), ["--cpu_devices", 2, "--batch_size", 2], None),
      # A slow pan (2 pixels a frame) that optical flow can follow, for the flicker report.
      "silent": (samples.make_clip(str(tmp / "silent.mp4"), flicker.synthetic_clip(
          samples.read_photo("coffee.png", 200), "pan", 10, 64, 48)[0], 24),
                 str(tmp / "silent_out.mp4"), ["--report_flicker"], None),
      # Like carphone_pristine.mp4: 176x144 with pixels 128:117 wide, which came back 117:1.
      "anamorphic": (video_clips.pattern_clip(tmp / "wide.mp4", 176, 144, 8, sar="128:117"),
                     str(tmp / "new" / "deeper" / "wide.mov"), [], quiet_env),
  }
  procs = {name: _start("--model", model_path, "--input", src, "--output", out, *args,
                        env=env)
           for name, (src, out, args, env) in cases.items()}
  return {name: (*result, cases[name][1], cases[name][0])
          for name, result in _finish(procs).items()}


@pytest.mark.slow
def test_odd_size_ntsc_rate_audio_and_frame_count_are_kept(runs):
  status, stdout, stderr, out, source = runs["odd ntsc"]
  assert status == 0, stderr
  src, dst = video_io.probe(source), video_io.probe(out)
  assert (dst.width, dst.height, dst.fps) == (33, 21, fractions.Fraction(30000, 1001))
  assert dst.codec == "h264" and dst.audio_codec == "aac"
  assert _count(out) == 15
  assert abs(dst.duration - src.duration) < 1 / 29.97
  assert "per device CPU:0:" in stdout and "CPU:1:" in stdout
  assert "frames 15/15" in stderr  # the progress line's end: the true count


@pytest.mark.slow
def test_no_audio_stays_silent(runs):
  assert runs["silent"][0] == 0, runs["silent"][2]
  out_silent = runs["silent"][3]
  assert video_io.probe(out_silent).audio_codec is None and _count(out_silent) == 10


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_max_frames_cuts_video_and_audio(model_path, tmp_path):
  # In-process: the tool adds nothing to the cut.
  out_cut = str(tmp_path / "cut.mkv")
  video_job.run(video_job.VideoJob(
      model=model_path, input=video_clips.pan_clip(tmp_path / "loud.mp4", 64, 48, 24, 24,
                                                   audio=True),
      output=out_cut, max_frames=6))
  cut = video_io.probe(out_cut)
  assert _count(out_cut) == 6 and cut.audio_codec is not None
  assert abs(cut.duration - 6 / 24) < 0.05  # the audio stops with the video


@pytest.mark.slow
def test_report_flicker_prints_and_writes_the_warping_errors(runs):
  import json
  status, stdout, stderr, out, source = runs["silent"]
  assert status == 0, stderr
  report = json.load(open(str(out) + ".flicker.json"))
  assert report["input_path"] == source and report["output_path"] == out
  for clip in ("input", "output"):
    assert report[clip]["pairs"] == 9 and report[clip]["scene_cuts"] == 0
    assert report[clip]["warping_error"] > 0
  ratio = report["output"]["warping_error"] / report["input"]["warping_error"]
  assert report["output_to_input"] == ratio
  assert "flicker (warping error" in stdout and f"{ratio:.1f}x the input's" in stdout


@pytest.mark.slow
def test_anamorphic_video_keeps_its_shape_and_the_console_has_only_our_lines(runs):
  status, _, stderr, out, _ = runs["anamorphic"]
  assert status == 0, stderr
  info = video_io.probe(out)  # in a folder the run created
  assert (info.width, info.height, info.sar) == (176, 144, "128:117")
  assert video_clips.display_aspect(out) == fractions.Fraction(1408, 1053)
  assert (info.colorspace, info.color_primaries, info.color_trc) == ("bt709",) * 3
  for noise in ("cuInit", "oneDNN", "cudart", "absl::InitializeLog"):
    assert noise not in stderr, stderr
  assert "frames 8/8" in stderr


@pytest.mark.slow
def test_bad_input_gets_one_clear_line_and_no_output(model_path, tmp_path):
  clip = video_clips.pan_clip(tmp_path / "clip.mp4", 64, 48, 24, 24)
  text = tmp_path / "notes.mp4"
  text.write_text("not a video\n")
  # Exit status 2 for what is wrong before the work starts, 1 for what the work finds. The
  # tool's cases stop before TensorFlow loads; what the job finds after its start is checked
  # in-process (a tool run that starts TensorFlow costs ~7 s): cli.run turns the job's
  # cli.Failed into one line with status 1 (test_stylize_tool's failed runs show it) and
  # cli.UsageError into status 2.
  cases = {
      "missing": ([str(tmp_path / "missing.mp4")], 2, "input video not found"),
      "standard input": (["-"], 2, "--input -: the video tool reads a file"),
      "not a video": ([str(text)], 2, "cannot read"),
      "truncated": ([video_clips.truncated(clip, tmp_path / "cut.mp4", False)], 2,
                    "cannot read"),
      "audio only": ([video_clips.audio_only(tmp_path / "tone.m4a")], 2, "no video stream"),
      "output is input": ([clip, "--output", clip], 2, "(the same file)"),
      "bad extension": ([clip, "--output", str(tmp_path / "out.avi")], 2,
                        "unsupported output"),
  }
  # In-process, each past TensorFlow's start: (job fields, error, message).
  jobs = {
      "truncated data": (dict(input=video_clips.truncated(clip, tmp_path / "cut_fs.mp4",
                                                          True)), cli.Failed, "is truncated"),
      "zero frames": (dict(input=video_clips.zero_frame_video(tmp_path / "empty.y4m")),
                      cli.Failed, "no video frames"),
      "too many devices": (dict(devices=3, cpu_devices=2), cli.UsageError, "--devices 3"),
      "float16 on a CPU": (dict(mixed_precision=True), cli.UsageError,
                           "--mixed_precision needs a GPU"),
  }
  before = set(os.listdir(tmp_path))
  for i, (name, (fields, error, message)) in enumerate(jobs.items()):
    job = video_job.VideoJob(**{"model": model_path, "input": clip,
                                "output": str(tmp_path / f"job{i}.mp4"), **fields})
    with pytest.raises(error) as info:
      video_job.run(job)
    assert message in str(info.value) and "\n" not in str(info.value), (name, info.value)
  procs = {}
  for i, (name, (args, _, _)) in enumerate(cases.items()):
    # (an output of its own: the jobs that pass their checks claim it, and a second job
    # writing one output is refused)
    out = ["--output", str(tmp_path / f"out{i}.mp4")] if "--output" not in args else []
    procs[name] = _start("--model", model_path, "--input", *args, *out)
  for name, (status, _, stderr) in _finish(procs, timeout=120).items():
    line = last_line(stderr)
    assert status == cases[name][1], (name, status, stderr)
    assert line.startswith("stylize_video.py: error:") and cases[name][2] in line, (name, line)
  assert set(os.listdir(tmp_path)) == before  # no output, no temporary file


@pytest.mark.slow
def test_outputs_naming_the_input_or_unwritable_are_refused_before_the_model_loads(
    model_path, tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 32, 32, 2, 24, audio=False)
  original = open(source, "rb").read()
  (tmp_path / "sub").mkdir()
  (tmp_path / "link.mp4").symlink_to(source)
  (tmp_path / "out_link.mp4").symlink_to(source)
  os.link(source, tmp_path / "hard.mp4")
  # Not a model at all: had the model been loaded first, its error would be the one shown.
  garbage = tmp_path / "garbage.keras"
  garbage.write_text("not a model\n")
  cases = {
      "symlink input, real file output": (str(tmp_path / "link.mp4"), source, "same file"),
      "symlink output": (source, str(tmp_path / "out_link.mp4"), "same file"),
      "dir/../name": (source, str(tmp_path / "sub" / ".." / "in.mp4"), "same file"),
      "hard link": (source, str(tmp_path / "hard.mp4"), "same file"),
      # /proc takes no new files, even for root (whom permission bits do not stop).
      "unwritable": (source, "/proc/x.mp4", "cannot write /proc/x.mp4"),
      "under a file": (source, str(tmp_path / "in.mp4" / "x.mp4"), "is a file, not a folder"),
  }
  procs = {name: _start("--model", str(garbage), "--input", src, "--output", out)
           for name, (src, out, _) in cases.items()}
  results = _finish(procs)
  for name, (status, _, stderr) in results.items():
    assert open(source, "rb").read() == original, name
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1, (name, status, stderr)
    assert lines[0].startswith("stylize_video.py: error:"), (name, lines)
    assert cases[name][2] in lines[0], (name, lines)
  # Another case: another file on a case-sensitive file system, the same file otherwise
  # (in-process: the job decides).
  upper = str(tmp_path / "IN.MP4")
  job = video_job.VideoJob(model=model_path, input=source, output=upper)
  if os.path.exists(upper):
    with pytest.raises(cli.UsageError, match="same file"):
      video_job.run(job)
  else:
    video_job.run(job)
    assert not os.path.samefile(source, upper)
  assert open(source, "rb").read() == original


@pytest.mark.slow
def test_help_and_flag_errors_answer_at_once_with_the_usual_statuses(model_path, tmp_path):
  clip = video_clips.pan_clip(tmp_path / "clip.mp4", 32, 32, 2, 24, audio=False)
  files = ["--model", model_path, "--input", clip, "--output", str(tmp_path / "out.mp4")]
  cases = {
      "help": (["--help"], 0, None),
      "batch size 0": ([*files, "--batch_size", 0], 2, "--batch_size"),
      "input is a folder": (["--model", model_path, "--input", str(tmp_path), "--output",
                             str(tmp_path / "out.mp4")], 2, "is a folder"),
      "model missing": (["--model", str(tmp_path / "nope.keras"), "--input", clip,
                         "--output", str(tmp_path / "out.mp4")], 2, "model not found"),
      "crf too high": ([*files, "--crf", 60], 2, "--crf"),
      "max frames 0": ([*files, "--max_frames", 0], 2, "--max_frames"),
      "devices 0": ([*files, "--devices", 0], 2, "--devices"),
      "tiny tile": ([*files, "--tile", 10], 2, "--tile"),
      "unknown preset": ([*files, "--preset", "fastest"], 2, "--preset"),
      "stray argument": ([*files, "extra"], 2, "unexpected arguments"),
      "no output": (files[:4], 2, "--output is required"),
  }
  results = _finish({name: _start(*args) for name, (args, _, _) in cases.items()}, 120)
  for name, (status, stdout, stderr) in results.items():
    assert status == cases[name][1], (name, status, stderr)
    if name == "help":
      assert "--input" in stdout and "--batch_size" in stdout and not stderr.strip()
      continue
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylize_video.py: error:"), (name, lines)
    assert cases[name][2] in lines[0], (name, lines)
  assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


@pytest.mark.slow
def test_ctrl_c_leaves_no_partial_output(model_path, tmp_path):
  source = video_clips.pan_clip(tmp_path / "long.mp4", 256, 192, 300, 24, audio=True)
  out = str(tmp_path / "out.mp4")
  proc = subprocess.Popen(
      tool_command("stylize_video.py", "--model", model_path, "--input", source,
                   "--output", out, "--batch_size", 1),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tool_env())
  for line in proc.stderr:  # the first progress line: frames are being written
    if line.startswith("frames "):
      break
  proc.send_signal(signal.SIGINT)
  _, stderr = proc.communicate(timeout=60)
  assert proc.returncode == 130
  assert last_line(stderr) == f"stylize_video.py: interrupted; {out} was not written"
  assert sorted(os.listdir(tmp_path)) == ["long.mp4"]
  assert not _processes_using(str(tmp_path))  # the decoder's and encoder's ffmpeg are gone


def _processes_using(path):
  """Command lines of running processes that name `path` (Linux /proc)."""
  found = []
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read().decode(errors="replace")
    except OSError:
      continue
    if path in cmdline and "pytest" not in cmdline:
      found.append(cmdline.replace("\0", " "))
  return found
