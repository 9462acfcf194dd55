"""fastchi add-style on a tiny "shipped" network: a user's painting joins the collection, the
old styles stay bit for bit, a stopped run resumes, and bad input leaves nothing behind."""

import dataclasses
import functools
import json
import os
import signal
import stat
import time

import numpy as np
import pytest

from fastchi_tf import cli
from fastchi_tf import config as config_lib
from fastchi_tf import export
from fastchi_tf import layers
from fastchi_tf import render_net
from fastchi_tf import shipped
from fastchi_tf.jobs import add_style
from fastchi_tf.light import collection as collection_lib
from conftest import write_small_photo
from run_helpers import randomized
from run_helpers import untrained_steps

BASE_NAMES = ("a", "b", "c")
FAKE_TFLITE = b"\0\0\0\0TFL3 stand-in"


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory):
  """A "shipped" folder: a tiny 3-style network (random rows, so styles differ) and the
  settings it was "trained" with."""
  folder = tmp_path_factory.mktemp("shipped")
  cfg = config_lib.named("tiny", render=dict(styles=BASE_NAMES), data=dict(style_size=32))
  model = randomized(render_net.build_render_net(**dataclasses.asdict(cfg.render)))
  export.export_keras(model, str(folder / shipped.KERAS_FILE))
  (folder / shipped.TRAINING_CONFIG_FILE).write_text(cfg.to_json())
  return str(folder)


@pytest.fixture
def untrained(monkeypatch):
  """Training steps that do not train (tests of a run's bookkeeping, not of learning)."""
  from fastchi_tf import train_lib
  monkeypatch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
  return write_small_photo("rocket.jpg", str(tmp_path_factory.mktemp("art") / "rocket.jpg"))


def job_for(painting, collection, tiny_shipped, photo_folder, **changes):
  settings = dict(photos=photo_folder, shipped_folder=tiny_shipped, checkpoint_every=1,
                  max_steps=2, verbose=False, preview_every=0.0, minutes=5.0, tflite=False)
  return add_style.AddStyleJob(painting=painting, collection=str(collection),
                               **dict(settings, **changes))


def one_hot(k, n):
  return np.eye(n, dtype=np.float32)[k][None]


@pytest.fixture(scope="module")
def added(tmp_path_factory, tiny_shipped, painting, photo_folder):
  """One add-style run (2 steps): (its result, what it said, the style names of the network
  it converted to TFLite). The conversion itself (~30 s) is export's, tested with it; here
  it returns stand-in bytes."""
  said, converted = [], []

  def tflite_bytes(model, precision):
    converted.append((render_net.style_names(model), precision))
    return FAKE_TFLITE
  folder = tmp_path_factory.mktemp("collection") / "mine"
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(export, "tflite_bytes", tflite_bytes)
    result = add_style.run(job_for(painting, folder, tiny_shipped, photo_folder,
                                   name="my_rocket", tflite=True), say=said.append)
  return result, said, converted


@pytest.mark.slow
def test_a_painting_joins_the_collection_and_the_old_styles_stay_bit_for_bit(
    added, tiny_shipped, rng):
  result, said, converted = added
  assert result.names == BASE_NAMES + ("my_rocket",) and result.steps == 2
  found = collection_lib.read(result.folder)
  assert found.names == result.names and found.added_names == ("my_rocket",)
  assert found.added[0].steps == 2 and found.added[0].painting.endswith("rocket.jpg")
  assert found.base_sha256 == collection_lib.file_sha256(
      os.path.join(tiny_shipped, shipped.KERAS_FILE))
  # The run is gone; the network, its settings and the preview are there.
  assert sorted(os.listdir(result.folder)) == sorted([
      collection_lib.INDEX_FILE, collection_lib.KERAS_FILE, collection_lib.TFLITE_FILE,
      collection_lib.TRAINING_CONFIG_FILE, collection_lib.PREVIEWS])
  assert [line for line in said if result.preview in line] == [
      f"preview (rewritten about every minute): {result.preview}"]
  before = layers.load_model(os.path.join(tiny_shipped, shipped.KERAS_FILE))
  after = layers.load_model(found.model("keras"))
  x = rng.uniform(0, 255, (1, 40, 36, 3)).astype(np.float32)
  for k in range(3):
    np.testing.assert_array_equal(before([x, one_hot(k, 3)]).numpy(),
                                  after([x, one_hot(k, 4)]).numpy())
  # The new style is a style of its own, and mixes with the old ones.
  new = after([x, one_hot(3, 4)]).numpy()
  assert np.abs(new - after([x, one_hot(0, 4)]).numpy()).mean() > 0.5
  from fastchi_tf import stylize
  from fastchi_tf import stylizers
  photo = x[0].astype(np.uint8)
  stylizer = stylizers.load_stylizer(found.model("keras"))
  assert stylizer.style_names == result.names
  a, b, mix = (stylize.stylize_image(stylizer.set_style(s), photo).astype(float)
               for s in ("a", "my_rocket", "a,my_rocket"))
  assert np.abs(mix - a).mean() < np.abs(a - b).mean() > 1
  # The TFLite file is the grown network's float16 conversion.
  assert converted == [(result.names, "float16")]
  with open(found.model("tflite"), "rb") as f:
    assert f.read() == FAKE_TFLITE


@pytest.mark.slow
def test_taken_names_are_refused_and_nothing_changes(added, tiny_shipped, painting,
                                                    photo_folder):
  result, _, _ = added
  listing = {n: os.path.getmtime(os.path.join(result.folder, n))
             for n in os.listdir(result.folder)}
  for name, why in (("my_rocket", "your collection"), ("b", "one of the shipped styles")):
    with pytest.raises(cli.UsageError, match=f"--name {name} is taken: .*{why}"):
      add_style.run(job_for(painting, result.folder, tiny_shipped, photo_folder, name=name))
  assert {n: os.path.getmtime(os.path.join(result.folder, n))
          for n in os.listdir(result.folder)} == listing


@pytest.mark.slow
def test_stylize_finds_the_collections_style_and_lists_it_as_yours(added, tiny_shipped,
                                                                   capsys):
  result, _, _ = added
  keras_file = os.path.join(tiny_shipped, shipped.KERAS_FILE)  # (its names as a .tflite's)
  mine = collection_lib.read(result.folder).model("keras")
  choose = functools.partial(collection_lib.model_for, shipped=keras_file,
                             shipped_keras=keras_file, folder=result.folder, kind="keras")
  lite = keras_file
  assert choose("my_rocket", kind="tflite") == (
      collection_lib.read(result.folder).model("tflite"), None)
  assert choose("my_rocket") == (mine, None)
  assert choose("b:0.3,my_rocket:0.7") == (mine, None)
  assert choose("3") == (mine, None)  # an index only the collection has
  assert choose("b") == (lite, None) and choose("a,b") == (lite, None)
  assert choose(None, list_styles=True) == (mine, None)
  assert choose("b", folder=None) == (lite, None)  # no default collection: the shipped one
  # stylize with the collection's network, as the command would after choosing it.
  from fastchi_tf.jobs import stylize as stylize_job
  from PIL import Image
  photo = os.path.join(os.path.dirname(result.folder), "photo.png")
  Image.fromarray(np.full((40, 48, 3), 120, np.uint8)).save(photo)
  out = stylize_job.run(stylize_job.StylizeJob(model=mine, input=photo, style="my_rocket",
                                               runtime="tf"))  # (its TFLite file: a stand-in)
  assert out.error is None and os.path.isfile(out.output)
  from fastchi_tf.commands import style_flags
  import types
  style_flags.print_styles(types.SimpleNamespace(path=mine, style_names=result.names))
  lines = capsys.readouterr().out.splitlines()
  assert lines[:3] == ["0 a", "1 b", "2 c"]
  assert lines[3].startswith("3 my_rocket  (yours: added from ") and "rocket.jpg" in lines[3]


def test_a_collection_made_from_another_shipped_network_says_so_once(tmp_path, tiny_shipped):
  folder = tmp_path / "mine"
  folder.mkdir()
  keras_file = os.path.join(tiny_shipped, shipped.KERAS_FILE)
  index = collection_lib.Collection(str(folder), BASE_NAMES + ("mine",), [collection_lib.Added(
      "mine", "/p/mine.jpg", "0" * 64, 15.0, 300, "2026-12-06T12:00:00+00:00")],
      base_sha256=collection_lib.file_sha256(keras_file))
  collection_lib.write(index)
  (folder / collection_lib.KERAS_FILE).write_bytes(b"")
  path, note = collection_lib.model_for("mine", keras_file, keras_file, str(folder),
                                        kind="keras")
  assert path == index.model("keras") and note is None
  collection_lib.write(dataclasses.replace(index, base_sha256="1" * 64))
  path, note = collection_lib.model_for("a,mine", keras_file, keras_file, str(folder))
  assert path == index.model("keras")  # (no TFLite file: the .keras one)
  assert "\n" not in note and "earlier shipped network" in note
  with pytest.raises(collection_lib.CollectionError, match="holds no styles yet"):
    collection_lib.model_for("mine", keras_file, keras_file, str(tmp_path / "none"))


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_grow_appends_the_new_row_and_keeps_everything_else(tiny_shipped, rng):
  cfg = shipped.training_config(tiny_shipped)
  build = lambda names, seed: randomized(render_net.build_render_net(
      **dict(dataclasses.asdict(cfg.render), styles=names)), seed)
  current = build(BASE_NAMES + ("x",), 1)
  trained = build(BASE_NAMES + ("y",), 2)
  for layer in trained.layers:  # the same shared weights as `current`, as fine-tuning leaves
    if layer.weights and not isinstance(layer, layers.InstanceNorm):
      layer.set_weights(current.get_layer(layer.name).get_weights())
  grown = add_style.grow(current, trained, "y", cfg.render)
  assert render_net.style_names(grown) == BASE_NAMES + ("x", "y")
  x = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
  for k in range(4):
    np.testing.assert_array_equal(current([x, one_hot(k, 4)]).numpy(),
                                  grown([x, one_hot(k, 5)]).numpy())
  np.testing.assert_array_equal(trained([x, one_hot(3, 4)]).numpy(),
                                grown([x, one_hot(4, 5)]).numpy())
  # A name already there (an add-style cut short after writing the network) is replaced.
  again = add_style.grow(grown, trained, "y", cfg.render)
  assert render_net.style_names(again) == BASE_NAMES + ("x", "y")
  with pytest.raises(ValueError, match="not the one the run of y grew from"):
    add_style.grow(build(BASE_NAMES + ("x",), 3), trained, "y", cfg.render)


@pytest.mark.parametrize("case", ["unreadable", "tiny", "missing", "minutes", "zero_minutes",
                                  "bad_name", "unwritable", "file_folder"])
def test_bad_input_is_one_line_and_leaves_nothing(case, tmp_path, tiny_shipped, painting,
                                                  photo_folder):
  folder = tmp_path / "mine"
  job = job_for(painting, folder, tiny_shipped, photo_folder)
  broken = tmp_path / "broken.jpg"
  broken.write_bytes(b"not a picture")
  small = write_small_photo("rocket.jpg", str(tmp_path / "small.png"), size=8)
  locked = tmp_path / "locked"
  locked.mkdir()
  changes, expected = {
      "unreadable": (dict(painting=str(broken)), "cannot read the painting"),
      "tiny": (dict(painting=small), "at least 16"),
      "missing": (dict(painting=str(tmp_path / "nope.jpg")), "painting not found"),
      "minutes": (dict(minutes=-1.0), "--minutes must be a number above 0"),
      "zero_minutes": (dict(minutes=0.0), "--minutes must be a number above 0"),
      "bad_name": (dict(name="a,b"), "cannot name a style"),
      "unwritable": (dict(collection=str(locked / "styles")), "cannot write the collection"),
      "file_folder": (dict(collection=str(broken)), "cannot write the collection"),
  }[case]
  listing = sorted(os.listdir(tmp_path))
  os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
  try:
    if case == "unwritable" and os.access(str(locked), os.W_OK):  # root: a read-only mount
      changes = dict(collection="/proc/fastchi_styles")
    with pytest.raises(cli.UsageError, match=expected) as raised:
      add_style.run(dataclasses.replace(job, **changes))
  finally:
    os.chmod(locked, stat.S_IRWXU)
  assert "\n" not in str(raised.value)
  assert sorted(os.listdir(tmp_path)) == listing
  assert os.listdir(locked) == []


def test_ctrl_c_before_the_first_checkpoint_leaves_nothing(tmp_path, tiny_shipped, painting,
                                                          photo_folder, monkeypatch):
  from fastchi_tf import train_lib
  tiny = layers.load_model(os.path.join(tiny_shipped, shipped.KERAS_FILE))

  def stopped(cfg, **kwargs):
    kwargs["stop_when"](0, tiny)  # (writes the first preview)
    raise train_lib.Interrupted(None, None)
  monkeypatch.setattr(train_lib, "train", stopped)
  listing = sorted(os.listdir(tmp_path))
  with pytest.raises(cli.Interrupted, match="nothing was kept"):
    add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder))
  assert sorted(os.listdir(tmp_path)) == listing


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_finetuning_from_a_saved_network_checks_it(tmp_path, tiny_shipped, painting,
                                                   photo_folder):
  """The pieces of `fastchi train --finetune_from NETWORK.keras` that add-style stands on."""
  from fastchi_tf import train_lib
  single = str(tmp_path / "single.keras")
  export.export_keras(render_net.build_render_net(width=8, residual_blocks=1), single)
  cfg = config_lib.named("tiny", model_dir=str(tmp_path / "run"), finetune_from=single,
                         data=dict(train_data=photo_folder, style_image=painting))
  with pytest.raises(ValueError, match="single-style network"):
    cfg.check()
  keras_file = os.path.join(tiny_shipped, shipped.KERAS_FILE)
  config_lib.replace(cfg, finetune_from=keras_file).check()
  wider = render_net.build_render_net(width=16, residual_blocks=1,
                                      styles=BASE_NAMES + ("new",))
  with pytest.raises(ValueError, match="is not the network the render settings describe"):
    train_lib._start_from(wider, keras_file, 3)  # pylint: disable=protected-access
  # The head has no weights to disagree: a network that differs only there is refused too.
  render = config_lib.named("tiny", render=dict(styles=BASE_NAMES + ("new",))).render
  head = "tanh" if render.output_activation == "sigmoid" else "sigmoid"
  other_head = render_net.build_render_net(**dict(dataclasses.asdict(render),
                                                  output_activation=head))
  with pytest.raises(ValueError, match=f"activation='{head}'"):
    train_lib._start_from(other_head, keras_file, 3)  # pylint: disable=protected-access
  same = render_net.build_render_net(**dataclasses.asdict(render))
  train_lib._start_from(same, keras_file, 3)  # pylint: disable=protected-access


def test_a_name_held_by_an_unfinished_run_of_another_painting_is_refused(
    tmp_path, tiny_shipped, painting, photo_folder):
  run_dir = tmp_path / "mine" / collection_lib.RUNS / "rocket"
  run_dir.mkdir(parents=True)
  (run_dir / add_style.STATE_FILE).write_text(json.dumps(
      dict({k: None for k in add_style.STATE_KEYS}, painting="/elsewhere/rocket.jpg",
           painting_sha256="0" * 64)))
  listing = sorted(os.listdir(run_dir))
  with pytest.raises(cli.UsageError, match="--name rocket is taken by an unfinished run of "
                     "another painting \\(/elsewhere/rocket.jpg\\)"):
    add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder))
  assert sorted(os.listdir(run_dir)) == listing


class _Killed(BaseException):
  """Stands in for SIGKILL: nothing of the job's catches it, so nothing tidies up."""


def killed_at(step_to_kill):
  """A train_lib.train that dies (no handler runs) once stop_when has seen `step_to_kill`."""
  from fastchi_tf import train_lib
  real_train = train_lib.train

  def train(cfg, **kwargs):
    stop_when = kwargs["stop_when"]

    def dying(step, model):
      stop = stop_when(step, model)
      if step >= step_to_kill:
        raise _Killed()
      return stop
    return real_train(cfg, **dict(kwargs, stop_when=dying))
  return train


def stopped_at(step_to_stop):
  """A train_lib.train with a Ctrl-C once stop_when has seen `step_to_stop` (between calls,
  where _StopRequest takes it: the run stops at the next check)."""
  from fastchi_tf import train_lib
  real_train = train_lib.train

  def train(cfg, **kwargs):
    stop_when = kwargs["stop_when"]

    def ctrl_c(step, model):
      if step == step_to_stop:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # (taken)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # (the handler sets the request)
      return stop_when(step, model)
    return real_train(cfg, **dict(kwargs, stop_when=ctrl_c))
  return train


@pytest.mark.slow
@pytest.mark.usefixtures("untrained")
def test_a_run_stopped_then_killed_then_moved_resumes_each_time(
    tmp_path, tiny_shipped, painting, photo_folder, monkeypatch):
  """Ctrl-C keeps the run, a kill keeps its steps and minutes as of the last checkpoint, and
  a painting moved meanwhile resumes from the run's copy; the same command goes on each time
  (one run through all three)."""
  from fastchi_tf import train_lib
  real_train = train_lib.train
  mine = tmp_path / "harbour.png"
  mine.write_bytes(open(painting, "rb").read())
  folder = tmp_path / "mine"
  job = job_for(str(mine), folder, tiny_shipped, photo_folder, max_steps=4)
  run_dir = folder / collection_lib.RUNS / "harbour"

  def state():
    return json.loads((run_dir / add_style.STATE_FILE).read_text())
  monkeypatch.setattr(train_lib, "train", stopped_at(1))  # (taken after step 2)
  with pytest.raises(cli.Interrupted, match="step 2.*the same command resumes it") as stopped:
    add_style.run(job)
  assert "\n" not in str(stopped.value)
  assert state()["steps"] == 2 and state()["seconds"] > 0
  assert collection_lib.read(str(folder)) is None  # nothing added yet
  # Resumed, and killed (no handler runs) after step 3.
  monkeypatch.setattr(train_lib, "train", real_train)
  monkeypatch.setattr(train_lib, "train", killed_at(3))
  said, stopped_seconds = [], state()["seconds"]
  with pytest.raises(_Killed):
    add_style.run(job, say=said.append)
  assert any("resuming harbour" in line and "(step 2)" in line for line in said)
  assert state()["steps"] == 3 and state()["seconds"] > stopped_seconds  # as of step 3
  assert collection_lib.read(str(folder)) is None
  monkeypatch.setattr(train_lib, "train", real_train)
  mine.unlink()  # moved away meanwhile
  said = []
  result = add_style.run(job, say=said.append)
  assert any("resuming harbour" in line and "(step 3)" in line for line in said)
  assert any("harbour.png" in line and "copy" in line for line in said)
  assert result.steps == 4 and result.resumed  # step 4: it went on
  assert not run_dir.exists()
  added_style = collection_lib.read(str(folder)).find("harbour")
  assert added_style.steps == 4
  assert added_style.painting == str(mine)  # what it was added from, as given
  assert os.path.isfile(result.preview)
  # A painting that is gone with no run to resume is still not found.
  with pytest.raises(cli.UsageError, match="painting not found"):
    add_style.check(dataclasses.replace(job, name="other"))


@pytest.mark.parametrize("leftover", ["no_state", "damaged_state"])
def test_a_leftover_run_folder_with_checkpoints_but_no_state_is_one_line(
    leftover, tmp_path, tiny_shipped, painting, photo_folder):
  run_dir = tmp_path / "mine" / collection_lib.RUNS / "rocket"
  (run_dir / "run").mkdir(parents=True)
  (run_dir / "run" / "ckpt-5.index").write_bytes(b"")
  if leftover == "damaged_state":
    (run_dir / add_style.STATE_FILE).write_text('{"name": "rock')
  listing = sorted(os.listdir(run_dir))
  with pytest.raises(cli.UsageError, match=f"{run_dir} holds an unfinished run") as raised:
    add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder))
  assert "\n" not in str(raised.value) and "--name" in str(raised.value)
  assert sorted(os.listdir(run_dir)) == listing


def fake_train(tiny_shipped, steps_seconds, error=None, checkpoint=None):
  """A train_lib.train that asks stop_when at the given steps, then raises `error`; the
  clock (add_style's time.monotonic) reads each step's seconds."""
  tiny = layers.load_model(os.path.join(tiny_shipped, shipped.KERAS_FILE))

  def train(cfg, **kwargs):
    for step, _ in steps_seconds:
      if checkpoint and step == checkpoint:
        os.makedirs(cfg.model_dir, exist_ok=True)
        open(os.path.join(cfg.model_dir, f"ckpt-{step}.index"), "wb").close()
      kwargs["stop_when"](step, tiny)
    raise error
  return train


def fake_clock(monkeypatch, seconds):
  """add_style's clock reads 100 + each of `seconds` in turn, then the last again."""
  import types
  readings = [100.0 + s for s in seconds]
  monkeypatch.setattr(add_style, "time", types.SimpleNamespace(
      monotonic=lambda: readings.pop(0) if len(readings) > 1 else readings[0]))


def test_the_interrupt_message_never_says_more_minutes_than_were_trained(
    tmp_path, tiny_shipped, painting, photo_folder, monkeypatch):
  from fastchi_tf import train_lib
  fake_clock(monkeypatch, [0.0, 15.6, 15.6])  # 0.26 minutes
  monkeypatch.setattr(train_lib, "train", fake_train(
      tiny_shipped, [(0, 0.0), (2, 15.6)], error=train_lib.Interrupted(2, "/r/run/ckpt-2"),
      checkpoint=2))
  with pytest.raises(cli.Interrupted) as stopped:
    add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder))
  message = str(stopped.value)
  assert "stopped after 0.2 of 5 minutes" in message
  assert "--minutes 0.2 adds the style as it is now" in message  # 0.2 * 60 <= 15.6: no training
  state = json.loads((tmp_path / "mine" / collection_lib.RUNS / "rocket" /
                      add_style.STATE_FILE).read_text())
  assert 0.2 * 60 <= state["seconds"] < 0.3 * 60


@pytest.mark.parametrize("seconds,shown", [(15.6, "0.2"), (18.0, "0.3"), (3.1, "0.05"),
                                           (0.9, "0.01"), (899.99, "14.9"), (900.0, "15")])
def test_minutes_are_rounded_down(seconds, shown):
  assert add_style.format_minutes(seconds) == shown
  assert float(shown) * 60 <= seconds


@pytest.mark.parametrize("kind", ["nan", "jump"])
def test_a_blow_up_names_add_styles_own_flags(kind, tmp_path, tiny_shipped, painting,
                                              photo_folder, monkeypatch):
  from fastchi_tf import train_lib
  kept = str(tmp_path / "mine" / "runs" / "rocket" / "run" / "ckpt-5")
  error = train_lib.TrainingError({
      "nan": f"loss became nan at step 7; stopped. Last good checkpoint: {kept}",
      "jump": (f"loss jumped to 812 at step 7, 9.1 times the median of the 100 steps before "
               f"it (--max_loss_jump 7): training blew up; stopped. Last good checkpoint: "
               f"{kept}. Resume with --clip_norm or a lower --learning_rate (and "
               "--allow_config_change)")}[kind])
  fake_clock(monkeypatch, [0.0, 30.0, 40.0])
  monkeypatch.setattr(train_lib, "train", fake_train(
      tiny_shipped, [(0, 0.0), (5, 30.0)], error=error, checkpoint=5))
  with pytest.raises(cli.Failed) as failed:
    add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder))
  message = str(failed.value)
  assert "\n" not in message and "at step 7" in message
  for flag in ("--clip_norm", "--learning_rate", "--allow_config_change", "--max_loss_jump"):
    assert flag not in message
  assert "--minutes 0.5" in message and "step 5" in message and "--name" in message


@pytest.mark.parametrize("name", ["nan", "NaN", "inf", "Infinity", "infinity"])
def test_names_that_read_as_numbers_are_refused(name, tmp_path, tiny_shipped, painting,
                                                photo_folder):
  with pytest.raises(ValueError, match="reads as a number"):
    collection_lib.check_name(name)
  with pytest.raises(cli.UsageError, match="reads as a number") as raised:
    add_style.check(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder,
                            name=name))
  assert "\n" not in str(raised.value)


def test_a_damaged_collection_json_leaves_the_shipped_styles_working(tmp_path, tiny_shipped,
                                                                     monkeypatch):
  folder = tmp_path / "mine"
  folder.mkdir()
  (folder / collection_lib.INDEX_FILE).write_text('{"names": ["a", ')
  monkeypatch.setenv(collection_lib.ENV, str(folder))
  keras_file = os.path.join(tiny_shipped, shipped.KERAS_FILE)
  choose = functools.partial(collection_lib.model_for, shipped=keras_file,
                             shipped_keras=keras_file, kind="keras")
  assert choose("b") == (keras_file, None) and choose("a:0.5,c:0.5") == (keras_file, None)
  assert choose(None) == (keras_file, None)
  with pytest.raises(collection_lib.CollectionError,
                     match=str(folder / collection_lib.INDEX_FILE)) as raised:
    choose("mine")
  assert "\n" not in str(raised.value)
  path, note = choose(None, list_styles=True)  # the shipped ones, and a line saying why
  assert path == keras_file and str(folder / collection_lib.INDEX_FILE) in note
  assert "\n" not in note


def test_a_missing_platformdirs_is_one_line(tmp_path, tiny_shipped, painting, photo_folder,
                                           monkeypatch):
  import sys
  monkeypatch.delenv(collection_lib.ENV, raising=False)
  monkeypatch.setitem(sys.modules, "platformdirs", None)  # import platformdirs fails
  keras_file = os.path.join(tiny_shipped, shipped.KERAS_FILE)
  assert collection_lib.model_for("b", keras_file, keras_file, kind="keras") == (
      keras_file, None)
  with pytest.raises(collection_lib.CollectionError, match="platformdirs is not installed.*"
                     + collection_lib.ENV):
    collection_lib.model_for("mine", keras_file, keras_file, kind="keras")
  job = job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder)
  with pytest.raises(cli.UsageError, match="platformdirs is not installed") as raised:
    add_style.check(dataclasses.replace(job, collection=None))
  assert "\n" not in str(raised.value)


@pytest.mark.slow
@pytest.mark.usefixtures("untrained")
def test_a_leftover_start_is_started_afresh_and_the_time_budget_ends_training(
    tmp_path, tiny_shipped, painting, photo_folder, monkeypatch):
  """A run folder killed while it was being prepared (it never trained) is started afresh,
  and the time budget (--minutes) ends its training and adds the style: one add-style run
  for both."""
  import types
  from fastchi_tf import train_lib
  real_train = train_lib.train
  now = [100.0]

  def train(cfg, **kwargs):
    """train on a clock that reads 25 s more at each step."""
    stop_when = kwargs["stop_when"]

    def ticking(step, model):
      now[0] = 100.0 + 25.0 * step
      return stop_when(step, model)
    return real_train(cfg, **dict(kwargs, stop_when=ticking))
  monkeypatch.setattr(train_lib, "train", train)
  monkeypatch.setattr(add_style, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
  run_dir = tmp_path / "mine" / collection_lib.RUNS / "rocket"
  run_dir.mkdir(parents=True)
  (run_dir / "rocket.png").write_bytes(b"half")  # killed while the run was being prepared
  result = add_style.run(job_for(painting, tmp_path / "mine", tiny_shipped, photo_folder,
                                 minutes=1.0, max_steps=None))
  assert not result.resumed and not run_dir.exists()
  assert result.steps == 3  # 0 s, 25, 50, then 75 >= 60: stopped at step 3's check
  assert result.minutes == 75 / 60
  assert collection_lib.read(result.folder).added[0].steps == 3


def _probe_final_save(monkeypatch, k):
  """Sends SIGINT (a real Ctrl-C) just before the k-th file operation of the final save."""
  import shutil
  calls = [0]

  def hooked(real):
    def call(*args, **kwargs):
      calls[0] += 1
      if calls[0] == k:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # (the handler runs here)
      return real(*args, **kwargs)
    return call
  real_add = add_style._add_to_collection  # pylint: disable=protected-access

  def add(*args, **kwargs):
    with pytest.MonkeyPatch.context() as patch:
      for module, name in ((os, "replace"), (os, "rename"), (os, "remove"),
                           (shutil, "rmtree"), (export, "export_keras"),
                           (export, "tflite_bytes")):
        patch.setattr(module, name, hooked(getattr(module, name)))
      return real_add(*args, **kwargs)
  monkeypatch.setattr(add_style, "_add_to_collection", add)
  return calls


def _networks_made_once(monkeypatch):
  """The final save's networks (the run's restored, the base loaded, the grown one) made by
  the first add_style.run that gets them all, and reused by the later ones of the same run:
  each build costs ~1-2 s, and none does a file operation that _probe_final_save counts (a
  build cut short by a probe's Ctrl-C keeps nothing)."""
  made = {}

  def once(key, make):
    if key not in made:
      made[key] = make()
    return made[key]
  load_run = add_style._load_run_model  # pylint: disable=protected-access
  load, grow = layers.load_model, add_style.grow
  monkeypatch.setattr(add_style, "_load_run_model",
                      lambda cfg: once(("run", cfg.model_dir), lambda: load_run(cfg)))
  monkeypatch.setattr(layers, "load_model",
                      lambda path, **kw: once(("load", path), lambda: load(path, **kw)))
  monkeypatch.setattr(add_style, "grow", lambda current, trained, name, render: once(
      ("grow", name), lambda: grow(current, trained, name, render)))


@pytest.mark.slow
@pytest.mark.usefixtures("untrained")
def test_ctrl_c_during_the_final_save_leaves_the_old_collection_or_the_new(
    tmp_path, tiny_shipped, painting, photo_folder, monkeypatch):
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  monkeypatch.setattr(export, "tflite_bytes", lambda model, precision: FAKE_TFLITE)
  from fastchi_tf import train_lib
  folder = tmp_path / "mine"
  job = job_for(painting, folder, tiny_shipped, photo_folder, max_steps=1, tflite=True)
  run_dir = folder / collection_lib.RUNS / "rocket"
  real_train = train_lib.train
  monkeypatch.setattr(train_lib, "train", killed_at(1))
  with pytest.raises(_Killed):  # trained, not added: what each try below adds
    add_style.run(job)
  monkeypatch.setattr(train_lib, "train", real_train)
  _networks_made_once(monkeypatch)  # (each try below builds the same ones)
  files = (collection_lib.INDEX_FILE, collection_lib.KERAS_FILE, collection_lib.TFLITE_FILE,
           collection_lib.TRAINING_CONFIG_FILE)
  from fastchi_tf.light import model_files
  outcomes = []
  for k in range(1, 60):
    calls = _probe_final_save(monkeypatch, k)
    try:
      add_style.run(job)
      outcome = "done"
    except cli.Interrupted as e:
      assert "\n" not in str(e)
      outcome = "interrupted"
    except KeyboardInterrupt:  # (pytest would stop on it)
      pytest.fail(f"a Ctrl-C at file operation {k} of the final save was not handled")
    present = [f for f in files if (folder / f).exists()]
    if not present:  # the old state: nothing added, the run kept whole
      assert (run_dir / add_style.STATE_FILE).exists() and add_style._has_checkpoint(
          str(run_dir))  # pylint: disable=protected-access
      outcomes.append("old")
    else:  # the new one, whole
      assert present == list(files), (k, present)
      found = collection_lib.read(str(folder))
      assert found.names == BASE_NAMES + ("rocket",)
      assert model_files.style_names(str(folder / collection_lib.KERAS_FILE)) == found.names
      assert json.loads((folder / collection_lib.TRAINING_CONFIG_FILE).read_text())[
          "render"]["styles"] == list(found.names)
      assert not run_dir.exists()
      outcomes.append("new")
    if outcomes[-1] == "new" or outcome == "done" or k > calls[0]:
      break
  assert outcomes[0] == "old" and outcomes[-1] == "new" and len(outcomes) > 3
  assert outcomes == sorted(outcomes, key=["old", "new"].index)  # never back
  # A later add-style finds the collection tidy: no pending save, no half run.
  assert [n for n in os.listdir(folder) if n.startswith(".") and n != collection_lib.LOCK_FILE
          ] in ([], [add_style.COMMIT_FOLDER])


def test_a_final_save_cut_short_by_a_kill_is_finished_by_the_next_add_style(
    tmp_path, tiny_shipped, painting, photo_folder):
  folder = tmp_path / "mine"
  committed = folder / add_style.COMMIT_FOLDER
  committed.mkdir(parents=True)
  (folder / collection_lib.RUNS / "x" / "run").mkdir(parents=True)  # the run it added
  (folder / collection_lib.RUNS / ".y.abc.tmp").mkdir()  # a start killed while prepared
  (folder / f"{add_style.COMMIT_FOLDER}-def.tmp").mkdir()  # a save killed while staged
  old = collection_lib.Collection(str(folder), BASE_NAMES, [], "0" * 64)
  new = collection_lib.Collection(str(folder), BASE_NAMES + ("x",), [collection_lib.Added(
      "x", "/p/x.jpg", "1" * 64, 1.0, 20, "2026-12-06T12:00:00+00:00")], "0" * 64)
  collection_lib.write(old)
  (folder / collection_lib.TFLITE_FILE).write_bytes(b"old")  # this save has none: removed
  (folder / collection_lib.KERAS_FILE).write_bytes(b"new")  # renamed in before the kill
  (committed / collection_lib.TRAINING_CONFIG_FILE).write_text("{}")
  (committed / collection_lib.INDEX_FILE).write_text(new.to_json())
  (committed / add_style.COMMIT_MANIFEST).write_text(json.dumps({
      "files": [collection_lib.KERAS_FILE, collection_lib.TRAINING_CONFIG_FILE,
                collection_lib.INDEX_FILE], "remove": [collection_lib.TFLITE_FILE],
      "run": os.path.join(collection_lib.RUNS, "x")}))
  with pytest.raises(cli.UsageError, match="--name x is taken: your collection"):
    add_style.run(job_for(painting, folder, tiny_shipped, photo_folder, name="x"))
  assert collection_lib.read(str(folder)) == new
  assert (folder / collection_lib.KERAS_FILE).read_bytes() == b"new"
  assert (folder / collection_lib.TRAINING_CONFIG_FILE).read_text() == "{}"
  assert sorted(os.listdir(folder)) == sorted([
      collection_lib.INDEX_FILE, collection_lib.KERAS_FILE,
      collection_lib.TRAINING_CONFIG_FILE])  # (runs/ emptied and removed; the lock gone)
