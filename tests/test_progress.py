import io

from fastchi_tf.progress import Progress


def _lines(stream):
  return [l for l in stream.getvalue().splitlines() if l]


def test_an_exact_total_ends_the_line_when_reached():
  out = io.StringIO()
  bar = Progress(3, label="image", unit="img", stream=out, interval=0)
  for done in (1, 2, 3):
    bar.update(done)
  assert [l.split(" [")[0] for l in _lines(out)] == ["image 1/3", "image 2/3", "image 3/3"]


def test_an_estimated_total_is_marked_and_the_final_line_has_the_true_count():
  """A 60-frame clip whose header suggests 61 frames, and a 132-frame one that suggests 131:
  neither may claim an exact total it does not have."""
  for frames, estimate in ((60, 61), (132, 131)):
    out = io.StringIO()
    bar = Progress(estimate, label="frames", unit="frames", stream=out, interval=0,
                   estimate=True)
    for done in range(4, frames + 1, 4):
      bar.update(done)
    bar.finish()
    lines = [l.split(" [")[0] for l in _lines(out)]
    assert all("/~" in l for l in lines[:-1]), lines
    assert lines[-1] == f"frames {frames}/{frames}"
    # Past the estimate the total stays an estimate, ahead of the count, until finish().
    assert all(int(l.split("~")[1]) > int(l.split()[1].split("/")[0]) for l in lines[:-1])


def test_finish_prints_once_on_a_log():
  out = io.StringIO()
  bar = Progress(10, label="frames", stream=out, interval=3600, estimate=True)
  bar.update(1)  # the first line, then none until the end
  bar.update(5)
  bar.finish()
  assert [l.split(" [")[0] for l in _lines(out)] == ["frames 1/~10", "frames 5/5"]
