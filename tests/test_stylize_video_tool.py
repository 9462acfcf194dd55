import fractions
import os
import signal
import subprocess

import pytest

from fastchi_tf import build_render_net
from fastchi_tf import video_io
from tool_runner import last_line
from tool_runner import run_tool
from tool_runner import tool_command
from tool_runner import tool_env
import video_clips


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("model") / "model.keras")
  build_render_net("inception", width=8).save(path)
  return path


def _count(path):
  return len(list(video_io.read_frames(video_io.probe(path))))


def test_odd_size_ntsc_rate_audio_and_frame_count_are_kept(model_path, tmp_path):
  source = video_clips.pan_clip(tmp_path / "in.mp4", 33, 21, 15, "30000/1001", audio=True)
  out = str(tmp_path / "out.mp4")
  result = run_tool("stylize_video.py", "--model", model_path, "--input", source,
                    "--output", out, "--cpu_devices", 2, "--batch_size", 2)
  assert result.returncode == 0, result.stderr
  src, dst = video_io.probe(source), video_io.probe(out)
  assert (dst.width, dst.height, dst.fps) == (33, 21, fractions.Fraction(30000, 1001))
  assert dst.codec == "h264" and dst.audio_codec == "aac"
  assert _count(out) == 15
  assert abs(dst.duration - src.duration) < 1 / 29.97
  assert "per device CPU:0:" in result.stdout and "CPU:1:" in result.stdout
  assert "frames 15/15" in result.stderr  # the progress line


def test_no_audio_stays_silent_and_max_frames_cuts_video_and_audio(model_path, tmp_path):
  silent = video_clips.pan_clip(tmp_path / "silent.mp4", 64, 48, 10, 24, audio=False)
  loud = video_clips.pan_clip(tmp_path / "loud.mp4", 64, 48, 24, 24, audio=True)
  out_silent, out_cut = str(tmp_path / "silent_out.mp4"), str(tmp_path / "cut.mkv")
  for args in ((silent, out_silent), (loud, out_cut, "--max_frames", 6)):
    result = run_tool("stylize_video.py", "--model", model_path, "--input", args[0],
                      "--output", *args[1:])
    assert result.returncode == 0, result.stderr
  assert video_io.probe(out_silent).audio_codec is None and _count(out_silent) == 10
  cut = video_io.probe(out_cut)
  assert _count(out_cut) == 6 and cut.audio_codec is not None
  assert abs(cut.duration - 6 / 24) < 0.05  # the audio stops with the video


def test_bad_input_gets_one_clear_line_and_no_output(model_path, tmp_path):
  clip = video_clips.pan_clip(tmp_path / "clip.mp4", 64, 48, 24, 24)
  text = tmp_path / "notes.mp4"
  text.write_text("not a video\n")
  cases = {
      "missing": ([str(tmp_path / "missing.mp4")], "input video not found"),
      "not a video": ([str(text)], "cannot read"),
      "truncated": ([video_clips.truncated(clip, tmp_path / "cut.mp4", False)], "cannot read"),
      "truncated data": ([video_clips.truncated(clip, tmp_path / "cut_fs.mp4", True)],
                         "is truncated"),
      "audio only": ([video_clips.audio_only(tmp_path / "tone.m4a")], "no video stream"),
      "zero frames": ([video_clips.zero_frame_video(tmp_path / "empty.y4m")],
                      "no video frames"),
      "output is input": ([clip, "--output", clip], "would overwrite its input"),
      "bad extension": ([clip, "--output", str(tmp_path / "out.avi")], "unsupported output"),
      "too many devices": ([clip, "--devices", 3, "--cpu_devices", 2], "--devices 3"),
      "float16 on a CPU": ([clip, "--mixed_precision"], "--mixed_precision needs a GPU"),
  }
  before = set(os.listdir(tmp_path))
  procs = {}
  for name, (args, _) in cases.items():
    out = ["--output", str(tmp_path / "out.mp4")] if "--output" not in args else []
    procs[name] = subprocess.Popen(
        tool_command("stylize_video.py", "--model", model_path, "--input", *args, *out),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tool_env())
  for name, proc in procs.items():
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0, name
    line = last_line(stderr)
    assert line.startswith("stylize_video.py: error:") and cases[name][1] in line, (name, line)
  assert set(os.listdir(tmp_path)) == before  # no output, no temporary file


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
  assert proc.returncode != 0
  assert "interrupted" in last_line(stderr)
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


def test_flag_errors_answer_before_loading_anything(tmp_path):
  result = run_tool("stylize_video.py", "--model", "m", "--input", "i.mp4", "--output",
                    "o.mp4", "--crf", 60)
  assert result.returncode != 0 and "--crf must be in 0..51" in last_line(result.stderr)
