import numpy as np
from PIL import Image

from fastchi_tf import plots


def test_loss_log_round_trip_and_curves_are_written(tmp_path):
  log = tmp_path / "losses.csv"
  log.write_text("step,total,content,style,tv\n" +
                 "".join(f"{i},{10 - i * .1},{5 - i * .05},{4},{0.1}\n" for i in range(1, 31)))
  read = plots.read_loss_log(str(log))
  np.testing.assert_array_equal(read["step"], np.arange(1, 31))
  assert read["total"][0] == 9.9
  plots.plot_loss_curves(read, str(tmp_path / "curve.png"))
  width, height = Image.open(tmp_path / "curve.png").size
  assert width > 3 * height  # four panels side by side
  (tmp_path / "empty.csv").write_text("")
  assert plots.read_loss_log(str(tmp_path / "empty.csv")) == {}


def test_image_grid_shows_every_image(tmp_path):
  red = np.zeros((8, 8, 3), np.uint8)
  red[..., 0] = 255
  plots.image_grid([[red, red], [red]], str(tmp_path / "grid.png"), row_labels=["a", "b"],
                   col_labels=["x", "y"])
  grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB")).astype(int)
  reddish = (grid[..., 0] > 200) & (grid[..., 1] < 60)
  assert reddish.mean() > 0.1


def test_image_grid_rows_of_wide_frames_are_not_padded_to_squares(tmp_path):
  wide = np.full((9, 16, 3), 255, np.uint8)
  wide[..., 1:] = 0
  for rows, name in (([[wide] * 4] * 3, "wide.png"), ([[wide[:, :9]] * 4] * 3, "square.png")):
    plots.image_grid(rows, str(tmp_path / name))
  wide_size, square_size = (Image.open(tmp_path / n).size for n in ("wide.png", "square.png"))
  assert wide_size[0] == square_size[0]
  # Three rows of 16:9 frames: a little over 9/16 of the square grid's height.
  assert wide_size[1] < 0.7 * square_size[1]
