"""The Makefile's browser target where apt-get cannot install (offline): one line, and the
tests go on (the browser test skips); with FASTCHI_REQUIRE_BROWSER=1 (CI) it stops make."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def offline(tmp_path):
  """An environment whose apt-get fails as it does without a mirror, and where Chromium is
  missing (its paths point nowhere)."""
  if shutil.which("make") is None:
    pytest.skip("no make on this machine")
  stub = tmp_path / "apt-get"
  stub.write_text("#!/bin/sh\necho 'E: could not resolve deb.debian.org' >&2\nexit 100\n")
  stub.chmod(0o755)
  env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
  env.pop("FASTCHI_REQUIRE_BROWSER", None)
  missing = [f"CHROMIUM={tmp_path}/chromium", f"CHROMEDRIVER={tmp_path}/chromedriver"]
  return env, missing


def test_an_offline_install_says_the_browser_test_will_skip(offline):
  env, missing = offline
  done = subprocess.run(["make", "-s", "--no-print-directory", "browser", *missing],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip().splitlines() == [
      "make browser: apt-get could not install chromium (offline?); the browser test will "
      "skip"] and done.stderr == ""


def test_ci_requires_the_install(offline):
  env, missing = offline
  done = subprocess.run(["make", "-s", "--no-print-directory", "browser", *missing],
                        cwd=ROOT, env=dict(env, FASTCHI_REQUIRE_BROWSER="1"),
                        capture_output=True, text=True, timeout=60)
  assert done.returncode != 0
  assert "apt-get could not install chromium chromium-driver" in done.stderr
