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


def run_tools(*calls, timeout=300, **env):
  """Runs several (name, *args) tool calls at once; returns their CompletedProcess results.

  Tool tests mostly wait for TensorFlow to import, so running them side by side saves time.
  A call may end with a dict of environment variables for it alone.
  """
  procs = []
  for i, call in enumerate(calls):
    extra = dict(env)
    if call and isinstance(call[-1], dict):
      extra.update(call[-1])
      calls = calls[:i] + (call[:-1],) + calls[i + 1:]
    procs.append(subprocess.Popen(tool_command(*calls[i]), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=tool_env(**extra)))
  results = []
  for call, proc in zip(calls, procs):
    out, err = proc.communicate(timeout=timeout)
    results.append(subprocess.CompletedProcess(tool_command(*call), proc.returncode, out, err))
  return results
