"""Runs the tools/ binaries as a user would, in a subprocess."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool_command(name, *args):
  return [sys.executable, os.path.join(ROOT, "tools", name), *map(str, args)]


def tool_env(**extra):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  env.update(extra)
  return env


def run_tool(name, *args, timeout=300, **env):
  return subprocess.run(tool_command(name, *args), capture_output=True, text=True,
                        timeout=timeout, env=tool_env(**env))


def last_line(text):
  lines = [l for l in text.strip().splitlines() if l.strip()]
  return lines[-1] if lines else ""
