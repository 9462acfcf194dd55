"""fastchi serve's page in a real browser: headless Chromium from Debian (`make browser`)
driven by Selenium, against the real command. Photo mode: upload, pick a style, a result of
the photo's (upright) size, a download at that size; live mode with Chromium's fake camera.

FASTCHI_SCREENSHOTS=DIR also saves a screenshot of each mode there (docs/serve_*.png), and
FASTCHI_FAKE_VIDEO=FILE.y4m gives the fake camera that video instead of Chromium's pattern.
"""

import base64
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fastchi_tf import samples

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
           "`make browser` as root installs them (make test does, as root with apt-get)")
WAIT = 40  # seconds, at most, for a result on a busy 2-core machine


@pytest.fixture(scope="module")
def server():
  """The real command on a free port; its URL."""
  process = subprocess.Popen([sys.executable, "-m", "fastchi_tf", "serve", "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=ROOT)
  try:
    line = process.stdout.readline()
    found = re.match(r"fastchi serve: (http://\S+) ", line)
    assert found, line + process.stderr.read()
    yield found.group(1)
  finally:
    process.terminate()
    process.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
  webdriver = pytest.importorskip("selenium.webdriver")
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--window-size=1280,800",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
              "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
    options.add_argument(arg)
  if os.environ.get("FASTCHI_FAKE_VIDEO"):
    options.add_argument(f"--use-file-for-fake-video-capture={os.environ['FASTCHI_FAKE_VIDEO']}")
  driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
  try:
    yield driver
  finally:
    driver.quit()


def _screenshot(driver, name):
  folder = os.environ.get("FASTCHI_SCREENSHOTS")
  if folder:
    os.makedirs(folder, exist_ok=True)
    driver.save_screenshot(os.path.join(folder, name))


def _js(driver, script):
  return driver.execute_script(script)


def _wait(driver, condition):
  from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top
  return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: condition())


@pytest.mark.slow
def test_photo_mode_and_live_mode(server, browser, tmp_path):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support.ui import Select  # pylint: disable=g-import-not-at-top
  # A 300x400 portrait stored sideways (400x300) with the EXIF tag that turns it upright,
  # as phones store photos: honoured, the astronaut stands and the result is 300x400.
  exif = Image.Exif()
  exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
  photo = tmp_path / "photo.jpg"
  upright = Image.fromarray(samples.read_photo("astronaut.png", 400)).resize((300, 400))
  upright.transpose(Image.Transpose.ROTATE_90).save(photo, quality=92, exif=exif.tobytes())

  browser.get(server)
  _wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ".thumb")) == 6)
  assert "6 styles" in browser.find_element(By.ID, "status").text
  Select(browser.find_element(By.ID, "style")).select_by_value("starry_night")
  browser.find_element(By.ID, "photo").send_keys(str(photo))
  result = "document.getElementById('result')"
  _wait(browser, lambda: _js(browser, f"return {result}.naturalWidth") == 300
        and not _js(browser, f"return {result}.hidden"))
  assert _js(browser, f"return {result}.naturalHeight") == 400
  _screenshot(browser, "serve_photo.png")
  download = browser.find_element(By.ID, "download")
  _wait(browser, lambda: (download.get_attribute("href") or "").startswith("blob:"))
  # strength blends in the page: the result's opacity at once, then a blended download
  first = download.get_attribute("href")  # the server's PNG, at full strength
  _js(browser, "const s = document.getElementById('strength'); s.value = 0.5;"
      "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
  assert _js(browser, f"return {result}.style.opacity") == "0.5"
  _wait(browser, lambda: download.get_attribute("href") != first)
  # (read as an image: the page's CSP lets it fetch nothing but its own server)
  data = browser.execute_async_script(
      "const done = arguments[arguments.length - 1], img = new Image();"
      "img.onload = () => { const c = document.createElement('canvas');"
      "  c.width = img.naturalWidth; c.height = img.naturalHeight;"
      "  c.getContext('2d').drawImage(img, 0, 0); done(c.toDataURL('image/png')); };"
      "img.src = document.getElementById('download').href;")
  blended = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
  assert blended.size == (300, 400)
  assert np.asarray(blended).std() > 10  # a picture, not a blank canvas

  _js(browser, "const s = document.getElementById('strength'); s.value = 1;"
      "s.dispatchEvent(new Event('input'));")
  browser.find_element(By.ID, "live").click()
  _wait(browser, lambda: int(_js(browser, f"return {result}.dataset.frames || 0")) >= 5)
  # Steady live video is on by default: the shown frames went through steady.js.
  assert _js(browser, "return document.getElementById('steady').checked")
  assert _js(browser, "return state.steadyOut !== null && state.steadyOut.length > 0")
  assert re.match(r"\d+\.\d frames/s · \d+ ms round trip$",
                  browser.find_element(By.ID, "fps").text)
  Select(browser.find_element(By.ID, "style")).select_by_value("udnie")  # changes live
  frames = int(_js(browser, f"return {result}.dataset.frames"))
  _wait(browser, lambda: int(_js(browser, f"return {result}.dataset.frames")) >= frames + 2)
  _screenshot(browser, "serve_live.png")
  browser.find_element(By.ID, "live").click()
  assert browser.find_element(By.ID, "fps").text == ""


@pytest.mark.slow
def test_steady_blend_keeps_still_parts_and_takes_what_moved(server, browser):
  """steady.js in the page: the previous output's weight is the strength where the camera
  saw the same pixels, and none where (or a pixel beside where) the input changed."""
  browser.get(server)
  blended = _js(browser, """
      const w = 12, h = 10, n = w * h * 4;
      const fill = (v) => new Uint8ClampedArray(n).fill(v);
      const prevIn = fill(50), prevOut = fill(100), curOut = fill(200), curIn = fill(50);
      for (let y = 3; y < 7; y++) for (let x = 5; x < 9; x++)
        for (let c = 0; c < 3; c++) curIn[4 * (y * w + x) + c] = 150;  // moved: 100 levels
      const out = steadyBlend(prevIn, prevOut, curIn, curOut, w, h, 0.7);
      const none = steadyBlend(null, null, curIn, curOut, w, h, 0.7) === curOut
                   && steadyBlend(prevIn, prevOut, curIn, curOut, w, h, 0) === curOut
                   && steadyBlend(prevIn, prevOut.subarray(4), curIn, curOut, w, h, 0.7) === curOut;
      return {out: Array.from(out), none: none};""")
  assert blended["none"]  # no previous frame, strength 0, or another size: the new frame
  out = np.array(blended["out"], np.float64).reshape(10, 12, 4)
  assert (out[..., 3] == 255).all()
  moved = np.zeros((10, 12), bool)
  moved[2:8, 4:10] = True  # the changed square and the pixel around it
  np.testing.assert_array_equal(out[moved][:, :3], 200)
  np.testing.assert_array_equal(out[~moved][:, :3], 130)  # 200 + 0.7 * (100 - 200)
