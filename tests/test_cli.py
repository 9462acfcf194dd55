"""fastchi_tf.cli through a tiny tool, as the tools use it."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tmp_path, *args, **env):
  tool = tmp_path / "tool.py"
  tool.write_text(textwrap.dedent('''\
      """A tool that says hello."""
      from absl import flags
      from fastchi_tf import cli
      flags.DEFINE_integer("count", 1, "How many.", lower_bound=1)
      def main(argv):
        if flags.FLAGS.count not in (8, 9):  # (those two: cli.run's handling alone)
          cli.import_tensorflow_quietly()
          import tensorflow as tf
          tf.config.list_physical_devices()
        if flags.FLAGS.count == 7:
          cli.fail("seven is unlucky")
        if flags.FLAGS.count == 8:
          raise KeyboardInterrupt  # Ctrl-C where the tool does not handle it
        if flags.FLAGS.count == 9:  # what the light install leaves out
          raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        print("hello" * flags.FLAGS.count)
      if __name__ == "__main__":
        cli.run(main)
      '''))
  environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  environ.update(PYTHONPATH=ROOT, **env)
  return subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True,
                        env=environ, timeout=120)


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_exit_codes_and_one_line_messages(tmp_path):
  # TensorFlow starts (~6 CPU-s a run) for a result (nothing on stderr) and for a failure
  # after its start (one line); the Ctrl-C and missing-package runs test cli.run's handling
  # of what main raised, which is the same without it.
  ok = _run(tmp_path, "--count", "2")
  assert ok.returncode == 0 and ok.stdout.strip() == "hellohello"
  assert ok.stderr == ""  # no TensorFlow start-up lines (oneDNN, cudart, cuInit)
  for args, code, line in [(["--count", "0"], 2, "tool.py: error: flag --count=0"),
                           (["--nope"], 2, "tool.py: error: Unknown command line flag"),
                           (["stray"], 2, "tool.py: error: unexpected arguments"),
                           (["--count", "7"], 1, "tool.py: error: seven is unlucky"),
                           (["--count", "8"], 130, "tool.py: interrupted; files are written "
                            "whole or not at all"),
                           (["--count", "9"], 2, "tool.py: error: matplotlib is not installed: "
                            "contact sheets and plots need it")]:
    result = _run(tmp_path, *args)
    assert result.returncode == code, (args, result.stderr)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(line), result.stderr
  help_ = _run(tmp_path, "--help")
  assert help_.returncode == 0 and "A tool that says hello." in help_.stdout
  assert "--count" in help_.stdout


def test_the_tile_flag_shows_the_range_it_and_check_tile_enforce():
  # --tile's help said "a non-negative integer" while 1 to 63 were refused.
  from absl import flags  # pylint: disable=g-import-not-at-top
  from fastchi_tf import cli  # pylint: disable=g-import-not-at-top
  from test_config import _claimed  # pylint: disable=g-import-not-at-top (its phrase reader)
  flag_values = flags.FlagValues()
  cli.define_tile_flag("Tile size.", flag_values=flag_values)
  shown = flag_values["tile"].parser.syntactic_help
  for value in ("-1", "0", "1", "63", "64", "65", "4096"):
    try:
      flag_values(["tool", f"--tile={value}"])
      taken = True
    except flags.Error:
      taken = False
    try:
      cli.check_tile(int(value))  # what the jobs check, for callers without flags
      checked = True
    except (ValueError, SystemExit):
      checked = False
    assert _claimed(shown, value) == taken == checked, (shown, value)
