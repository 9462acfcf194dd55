"""The edges of cli.run and of the jobs' early checks: a reader that leaves, a refusal
before TensorFlow's start."""

import os
import subprocess
import sys

import pytest

from fastchi_tf import cli
from tool_runner import ROOT
from tool_runner import tool_env


@pytest.mark.parametrize("unbuffered,args", [
    (True, ["stylize", "--list_styles", "--json"]),
    (False, ["stylize", "--list_styles", "--json"]),
    (False, ["--help"]), (False, ["--version"])])
def test_a_closed_pipe_ends_the_tool_quietly(unbuffered, args):
  """`fastchi stylize --list_styles --json | true`: the reader has gone before the tool
  writes, whether the write fails at print (PYTHONUNBUFFERED) or at the flush at exit."""
  read_end, write_end = os.pipe()
  os.close(read_end)  # the reader leaves first: the tool's every write meets EPIPE
  env = tool_env()
  env.pop("PYTHONUNBUFFERED", None)
  if unbuffered:
    env["PYTHONUNBUFFERED"] = "1"
  try:
    result = subprocess.run(
        [sys.executable, "-m", "fastchi_tf"] + args,
        stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, env=env, cwd=ROOT)
  finally:
    os.close(write_end)
  assert result.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"
  assert result.returncode == cli.PIPE_CLOSED == 141
