import collections
import glob
import hashlib
import json
import os
import re
import shutil
import signal

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fastchi_tf import config as config_lib
from fastchi_tf import data
from fastchi_tf import run_folder
from fastchi_tf import train_lib
from run_helpers import saved_run
from run_helpers import untrained_steps


def make_config(model_dir, photo_folder, style_path, **overrides):
  return config_lib.named("tiny", model_dir=str(model_dir),
                          data=dict(train_data=photo_folder, style_image=style_path),
                          **overrides)


def checkpoint_tensors(model_dir):
  reader = tf.train.load_checkpoint(model_dir)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if "model" in k or "optimizer" in k}


def assert_same_tensors(a, b, rtol=1e-4, atol=1e-5):
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol, err_msg=key)


def zero_gradient_keys(model_dir):
  """Checkpoint keys of the run's weights whose true gradient is zero.

  A per-channel constant that reaches an instance normalization through linear layers only
  is subtracted again there: the biases of each `X_conv` block, which feeds `X_norm`
  (reflection padding keeps constants constant), and the shift of each residual block's
  second normalization (`rIb_norm/beta`), which joins the trunk with no ReLU after it and
  reaches `u1_norm` through nearest upsampling and u1's convolutions. Their computed
  gradients are rounding noise that differs with the order of the sums (the batch split,
  the CPU's vector width); Adam divides that noise by its own size, so these weights still
  move by about the learning rate per step, in a direction that rounding chooses.
  """
  from fastchi_tf import export  # pylint: disable=g-import-not-at-top
  model = export.restore_render_net(model_dir)
  names = {layer.name for layer in model.layers}
  keys = set()
  for i, v in enumerate(model.trainable_variables):
    block = v.path.split("/")[0]
    conv_bias = v.path.endswith("/bias") and block.endswith("_conv") and (
        block[:-len("_conv")] + "_norm") in names
    trunk_shift = re.fullmatch(r"r\d+b_norm/beta", v.path) is not None
    if conv_bias or trunk_shift:
      keys.add(f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE")
  assert keys, "no convolution feeds an instance normalization"
  return keys


def assert_close_overall(a, b, noise_keys=(), steps=0, learning_rate=0.0, tolerance=1e-4):
  """Relative distance of all tensors taken together.

  Per-element checks cannot work here: the sums in a step run in another order with the
  batch split, so every value differs by rounding. The weights in `noise_keys` (see
  zero_gradient_keys) are bounded apart: in `steps` Adam steps each moves at most
  learning_rate * (1 - beta_1) / sqrt(1 - beta_2) per step (Kingma and Ba, section 2.1),
  so two runs differ by at most twice that. Every other value follows a real gradient and
  differs by float32 rounding carried through two steps: 1e-4 overall leaves ~100x room
  (measured 1e-7 to 1e-6 on AVX2 and AVX-512 CPUs).
  """
  assert a.keys() == b.keys() and len(a) > 10
  bound = 2 * steps * learning_rate * (1 - 0.9) / np.sqrt(1 - 0.999)
  for key in noise_keys:
    assert np.abs(a[key] - b[key]).max() <= bound, key
  # The checkpoint lists model weights once, under the optimizer's trainable variables.
  for group in ("optimizer/_trainable_variables/", "optimizer/_variables/"):
    keys = sorted(k for k in a if k.startswith(group) and k not in noise_keys)
    x = np.concatenate([np.ravel(a[k]) for k in keys]).astype(np.float64)
    y = np.concatenate([np.ravel(b[k]) for k in keys]).astype(np.float64)
    assert np.linalg.norm(x - y) <= tolerance * np.linalg.norm(x), group


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, photo_folder, style_path):
  """One short run that several tests read: (config, result, [(step, first weights)] as
  on_summary saw them)."""
  cfg = make_config(tmp_path_factory.mktemp("tiny") / "run", photo_folder, style_path, steps=4,
                    checkpoint_every=3, summary_every=2, learning_rate=0.01,
                    loss_net=dict(style_layers=("relu1_2", "relu2_2", "relu3_3")))
  seen = []

  def on_summary(step, model):
    seen.append((step, model.get_weights()[0]))

  return cfg, train_lib.train(cfg, verbose=False, on_summary=on_summary), seen


@pytest.mark.slow
def test_run_writes_config_checkpoints_summaries_log_and_curve(tiny_run, photo_folder,
                                                                style_path):
  cfg, result, _ = tiny_run
  assert result.step == 4 and result.skipped_files == 0
  files = os.listdir(cfg.model_dir)
  assert {"config.json", "losses.csv", "loss_curve.png", "checkpoint"} <= set(files)
  assert {"ckpt-3.index", "ckpt-4.index"} <= set(files)  # each interval and the end
  saved = config_lib.TrainConfig.from_dict(json.load(open(os.path.join(cfg.model_dir,
                                                                       "config.json"))))
  assert saved == result.config
  # The run records its inputs by content; the caller's config is left as it was.
  assert saved.data.style_sha256 == hashlib.sha256(open(style_path, "rb").read()).hexdigest()
  assert saved.data.train_data_sha256 == data.files_sha256(
      photo_folder, data.list_images(photo_folder))
  assert cfg.data.style_sha256 is None
  saved.data.style_sha256 = saved.data.train_data_sha256 = None
  assert saved == cfg
  log = open(os.path.join(cfg.model_dir, "losses.csv")).read().splitlines()
  assert log[0] == "step,total,content,style,tv" and len(log) == 5
  # The last checkpoint keeps the logged steps' terms for the loss-jump guard of a resume.
  window = tf.train.load_checkpoint(cfg.model_dir).get_tensor(
      "loss_window/.ATTRIBUTES/VARIABLE_VALUE")
  logged = np.array([[float(v) for v in row.split(",")[2:]] for row in log[1:]])
  np.testing.assert_allclose(window[-4:, :3], logged, rtol=1e-5)
  assert np.isnan(window[:-4]).all() and np.isnan(window[:, 3]).all()
  events = [f for f in files if f.startswith("events.out.tfevents")]
  tags = set()
  for event in tf.compat.v1.train.summary_iterator(os.path.join(cfg.model_dir, events[0])):
    tags |= {v.tag for v in event.summary.value}
  assert {"loss/total", "loss/content", "loss/style", "loss/tv", "learning_rate",
          "images_per_sec", "content_and_stylized"} <= tags
  lr = [v.tensor for e in tf.compat.v1.train.summary_iterator(
      os.path.join(cfg.model_dir, events[0])) for v in e.summary.value if v.tag == "learning_rate"]
  assert tf.make_ndarray(lr[0]) == pytest.approx(0.01)  # the flag is used


def scalars(model_dir):
  """{tag: {step: value}} of the scalar summaries in a run's TensorBoard event files."""
  values = collections.defaultdict(dict)
  for path in glob.glob(os.path.join(model_dir, "events.out.tfevents*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == "scalars":
          values[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
  return values


@pytest.mark.slow
def test_each_style_layer_term_is_logged_and_they_sum_to_the_style_term(tiny_run):
  cfg, result, _ = tiny_run
  values = scalars(cfg.model_dir)
  layers = [f"style/{layer}" for layer in cfg.loss_net.style_layers]
  assert sorted(tag for tag in values if tag.startswith("style/")) == layers
  for step in (2, 4):
    assert values["loss/style"][step] > 0
    assert sum(values[tag][step] for tag in layers) == pytest.approx(values["loss/style"][step],
                                                                     rel=1e-5)
  assert result.last_losses["style"] == pytest.approx(
      sum(result.last_losses[tag] for tag in layers), rel=1e-5)


@pytest.mark.slow
def test_diverging_loss_stops_with_the_step_and_keeps_the_last_checkpoint(
    tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "nan", photo_folder, style_path, steps=2, checkpoint_every=1)
  saved_run(cfg, (2,))
  cfg.steps = 4
  cfg.loss.tv_weight = 1e38  # finite, but times the TV loss it overflows float32
  with pytest.raises(train_lib.TrainingError, match=r"at step 3.*ckpt-2"):
    train_lib.train(cfg, verbose=False, allow_config_change=True)
  assert tf.train.latest_checkpoint(cfg.model_dir).endswith("ckpt-2")


@pytest.mark.slow
def test_undecodable_training_images_end_the_run_with_one_summary_line(
    tmp_path, photo_folder, style_path, capsys, caplog):
  photos = tmp_path / "photos"
  shutil.copytree(photo_folder, photos)
  for name in ("0_bad.jpg", "1_bad.png", "more/2_bad.jpg", "more/3_bad.png"):
    (photos / name).write_bytes(b"not an image")
  cfg = make_config(tmp_path / "run", str(photos), style_path, steps=2, batch_size=4)
  with caplog.at_level("INFO"):
    result = train_lib.train(cfg)
  n = result.skipped_files
  assert n >= 2  # 8 steps' worth of images out of 10 files, 4 of them bad
  lines = [line for line in capsys.readouterr().err.splitlines() if "bad." in line]
  names = r"\S+_bad\.(jpg|png)"
  assert len(lines) == 1 and re.fullmatch(
      rf"skipped {n} undecodable training images: {names}(, {names}){{{min(n, 3) - 1}}}"
      + (f" and {n - 3} more" if n > 3 else ""), lines[0]), lines
  assert not [r for r in caplog.records if "bad." in r.getMessage()]


class _ScriptedTrainer:
  """Stands in for Trainer in `_loop`: each step's total loss comes from `totals` (all of it
  content, at content weight 1); the windows it would save are kept in `windows`."""
  log_terms = train_lib.TERMS
  temporal = None
  window_rows = train_lib.Trainer.window_rows
  window_totals = train_lib.Trainer.window_totals

  def __init__(self, totals):
    self.totals, self.step, self.saved, self.windows = list(totals), 0, [], []
    self.manager = self
    self.cfg = config_lib.named("tiny")

  def keep_window(self, rows):
    self.windows.append(np.array(rows))

  @property
  def latest_checkpoint(self):
    return f"ckpt-{self.saved[-1]}" if self.saved else None

  def save(self, checkpoint_number):
    self.saved.append(checkpoint_number)

  def run_steps(self, iterator, steps):
    chunk = self.totals[self.step:self.step + steps]
    self.step += steps
    return np.array([[t, t, 0.0, 0.0] for t in chunk])


class _QuietLog:
  def snapshot(self, step):
    pass

  def steps(self, step, history, images_per_sec):
    return {"total": float(history[-1, 0])}

  def summary(self, step, last, images_per_sec):
    pass


@pytest.mark.parametrize("max_loss_jump,stops_at", [(5.0, 251), (0.0, None), (30.0, None)])
def test_a_loss_that_jumps_stops_the_run_before_it_saves_again(max_loss_jump, stops_at):
  # The shape of the recipe's diverged control run: noise within 1.5x of the median, then a
  # finite blow-up (7x), which the NaN check alone let run on for 650 steps.
  noise = np.random.default_rng(0).uniform(600, 900, 300)
  totals = np.concatenate([noise[:250], [4700.0], noise[251:]])
  cfg = config_lib.named("tiny", steps=300, checkpoint_every=100, summary_every=50,
                         max_loss_jump=max_loss_jump)
  trainer = _ScriptedTrainer(totals)
  stop = collections.namedtuple("Stop", "requested")(False)
  if stops_at is None:
    train_lib._loop(cfg, trainer, None, _QuietLog(), 0, stop, False)
    assert trainer.saved == [100, 200, 300]
    return
  with pytest.raises(train_lib.TrainingError,
                     match=rf"loss jumped to 4700 at step {stops_at}, .* times the median "
                     r"of the 100 steps before it .*Last good checkpoint: ckpt-200"):
    train_lib._loop(cfg, trainer, None, _QuietLog(), 0, stop, False)
  assert trainer.saved == [100, 200]


def test_a_resumed_run_judges_its_first_steps_against_the_saved_window():
  # The case: resumed with a higher learning rate, the loss blew up 16x in the first
  # steps, while a guard that started empty could not judge for 100 steps.
  noise = np.random.default_rng(0).uniform(600, 900, 300)
  cfg = config_lib.named("tiny", steps=300, checkpoint_every=100, summary_every=50)
  stop = collections.namedtuple("Stop", "requested")(False)
  first = _ScriptedTrainer(noise[:200])
  train_lib._loop(config_lib.replace(cfg, steps=200), first, None, _QuietLog(), 0, stop, False)
  window = first.windows[-1]  # what checkpoint 200 keeps: steps 101-200
  assert window.shape == (100, 4) and np.array_equal(window[:, 0], noise[100:200].astype(
      np.float32)) and np.isnan(window[:, 3]).all()  # the temporal term is off
  resumed = _ScriptedTrainer(np.concatenate([[16 * 750.0], noise[201:]]))
  with pytest.raises(train_lib.TrainingError, match="loss jumped to 12000 at step 201, "):
    train_lib._loop(cfg, resumed, None, _QuietLog(), 200, stop, False, window)


def _trainer(cfg, style_path):
  return train_lib.Trainer(cfg, tf.distribute.get_strategy(), [data.read_image(style_path)],
                           cfg.model_dir)


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_the_window_travels_with_the_checkpoint_and_is_weighted_anew(
    tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=300)
  trainer = _trainer(cfg, style_path)
  rows = np.random.default_rng(0).uniform(1, 2, (100, 4)).astype(np.float32)
  rows[:, 3] = np.nan  # no temporal term
  trainer.step.assign(100)
  trainer.keep_window(rows)
  trainer.manager.save(checkpoint_number=100)
  # Resumed with other loss weights and learning rate (--allow_config_change): the same
  # terms, weighted as the run now weighs them; losses.csv plays no part.
  changed = config_lib.replace(cfg, learning_rate=0.5, loss=dict(style_weight=100.0,
                                                                 tv_weight=0.0))
  again = _trainer(changed, style_path)
  assert again.restore() == 100
  kept, why = again.restored_window()
  assert why is None
  np.testing.assert_array_equal(kept, rows)
  np.testing.assert_allclose(again.window_totals(kept), rows[:, 0] + 100 * rows[:, 1],
                             rtol=1e-6)
  # Other terms (another crop size measures another loss): the guard starts afresh, saying so.
  resized = _trainer(config_lib.replace(cfg, data=dict(image_size=48)), style_path)
  resized.restore()
  kept, why = resized.restored_window()
  assert len(kept) == 0 and why == ("the loss-jump guard starts afresh: --image_size changed "
                                    "what the loss measures")


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_checkpoints_from_before_the_window_still_restore(tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=300)
  trainer = _trainer(cfg, style_path)
  trainer.step.assign(7)
  old = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer, step=trainer.step)
  old.save(os.path.join(cfg.model_dir, "ckpt"))  # ckpt-1, as an older version wrote it
  again = _trainer(cfg, style_path)
  assert again.restore() == 7
  kept, why = again.restored_window()
  assert len(kept) == 0 and why is None


def test_loss_jumps_are_judged_against_a_full_window():
  jump = train_lib._loss_jump
  window = [1.0] * train_lib.JUMP_WINDOW
  assert jump(window, [1.2, 6.0, 1.0], 5.0) == (1, 6.0)
  assert jump(window[1:], [6.0], 5.0) is None  # 99 steps seen: too few to judge
  assert jump(window[1:], [1.0, 6.0], 5.0) == (1, 6.0)  # the window fills across calls
  assert jump(window, [6.0], 0.0) is None


@pytest.mark.slow
@pytest.mark.parametrize("change,error,match", [
    (dict(batch_size=3), ValueError, "batch_size=3 cannot be shared by 2 replicas"),
    (dict(style="missing.png"), ValueError, "style image not found"),
    (dict(style="empty"), ValueError, "style folder .*empty holds no images"),
    (dict(train_data="missing"), ValueError, "training data folder not found"),
    (dict(train_data="photos/a.jpg"), ValueError, "training data .*a.jpg is a file, not a folder"),
    (dict(train_data="empty"), data.DataError, "no images"),
    (dict(train_data="tfds:no_such_dataset"), data.DataError, "no_such_dataset"),
    (dict(render_variant="resnet"), ValueError, "unknown render network variant"),
    (dict(train_data="photos", model_dir="photos/run"), ValueError,
     "lies inside --train_data .*train on its own outputs"),
    (dict(model_dir="photos/a.jpg"), ValueError, "a.jpg is a file, not a folder"),
    (dict(style_weight=float("nan")), ValueError, "--style_weight must be a finite number >= 0"),
])
def test_bad_inputs_fail_before_anything_is_written(tmp_path, photo_folder, style_path, change,
                                                    error, match, mirrored):
  (tmp_path / "empty").mkdir()
  (tmp_path / "photos").mkdir()  # a folder of training data that a wrong run could write to
  shutil.copy(data.list_images(photo_folder)[0], tmp_path / "photos" / "a.jpg")
  before = sorted(os.listdir(tmp_path / "photos"))
  cfg = make_config(tmp_path / change.get("model_dir", "run"), photo_folder, style_path)
  cfg.batch_size = change.get("batch_size", cfg.batch_size)
  cfg.loss.style_weight = change.get("style_weight", cfg.loss.style_weight)
  if "style" in change:
    cfg.data.style_image = str(tmp_path / change["style"])
  if "train_data" in change:
    td = change["train_data"]
    cfg.data.train_data = td if td.startswith("tfds:") else str(tmp_path / td)
  cfg.render.variant = change.get("render_variant", cfg.render.variant)
  with pytest.raises(error, match=match):
    train_lib.train(cfg, mirrored, verbose=False)
  assert not os.path.isdir(cfg.model_dir)
  assert sorted(os.listdir(tmp_path / "photos")) == before


@pytest.mark.slow
def test_resuming_with_another_architecture_is_refused(tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=1)
  saved_run(cfg, (1,))
  before = sorted(os.listdir(cfg.model_dir))
  cfg.render.width = 16
  with pytest.raises(ValueError, match="different render configuration"):
    train_lib.train(cfg, verbose=False)
  assert sorted(os.listdir(cfg.model_dir)) == before


def folder_state(folder):
  """Names, sizes and modification times of a folder and its files."""
  state = {".": os.stat(folder).st_mtime_ns}
  for name in os.listdir(folder):
    st = os.stat(os.path.join(folder, name))
    state[name] = (st.st_size, st.st_mtime_ns)
  return state


@pytest.mark.slow
def test_a_folder_held_by_another_run_is_refused_untouched(tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "run", photo_folder, style_path)
  os.makedirs(cfg.model_dir)
  with run_folder.lock_folder(cfg.model_dir):  # as another run would
    before = folder_state(cfg.model_dir)
    with pytest.raises(run_folder.InUseError,
                       match=rf"run is in use by another training run \(pid {os.getpid()}\)"):
      train_lib.train(cfg, verbose=False)
    assert folder_state(cfg.model_dir) == before
  with run_folder.lock_folder(cfg.model_dir):  # the refused run does not keep it
    pass
  assert os.listdir(cfg.model_dir) == []  # released, the lock file goes
  # A run killed while holding the folder does not block the next one: see
  # test_train_tool_signals.test_sigkilled_run_resumes_to_the_same_weights.


def _raises(error):
  def fail(*args, **kwargs):
    del args, kwargs
    raise error
  return fail


def _unwritable_once_held(folder):
  """io_utils.check_writable_folder failing for the run's folder once it holds it."""
  if os.path.exists(os.path.join(folder, run_folder.LOCK_FILE)):
    raise ValueError(f"cannot write to {folder}")


def _ctrl_c_between_steps(self, iterator, steps):
  if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    raise KeyboardInterrupt  # the run does not handle it (not the main thread)
  os.kill(os.getpid(), signal.SIGINT)  # the run's handler asks the loop to stop
  return untrained_steps(1.0)(self, iterator, steps)


# Every way a run can end once it holds its folder: (what is patched, its stand-in, what
# train raises).
ENDINGS = {
    "an unwritable folder": ("fastchi_tf.light.io_utils.check_writable_folder",
                             _unwritable_once_held, ValueError),
    "settings changed by another run": ("fastchi_tf.train_lib._train_run",
                                        _raises(ValueError("different settings")), ValueError),
    "a network that cannot be built": ("fastchi_tf.train_lib.build_loss_net",
                                       _raises(ValueError("does not fit")), ValueError),
    "Ctrl-C while the networks are built": ("fastchi_tf.train_lib.build_loss_net",
                                            _raises(KeyboardInterrupt()),
                                            train_lib.Interrupted),
    "a loss that is not finite": ("fastchi_tf.train_lib.Trainer.run_steps",
                                  untrained_steps(np.nan),
                                  train_lib.TrainingError),
    "Ctrl-C between steps": ("fastchi_tf.train_lib.Trainer.run_steps", _ctrl_c_between_steps,
                             train_lib.Interrupted),
    "a checkpoint on a full disk": (
        "tensorflow.train.CheckpointManager.save",
        _raises(tf.errors.ResourceExhaustedError(None, None, "No space left on device")),
        tf.errors.OpError),
    "the loss curve on a full disk": ("fastchi_tf.plots.plot_loss_curves",
                                      _raises(OSError(28, "No space left on device")), OSError),
    "success": ("fastchi_tf.train_lib.Trainer.run_steps", untrained_steps(1.0), None),
}


@pytest.mark.slow
@pytest.mark.parametrize("ending", ENDINGS)
def test_every_ending_of_a_run_releases_its_folder_and_removes_the_lock(
    tmp_path, photo_folder, style_path, monkeypatch, ending):
  target, stand_in, error = ENDINGS[ending]
  # Steps without training unless the ending is in them: how the run ends, not what it
  # learns, is tested (tracing the step costs ~5 s).
  monkeypatch.setattr("fastchi_tf.train_lib.Trainer.run_steps", untrained_steps(1.0))
  monkeypatch.setattr(target, stand_in)
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=2, checkpoint_every=1)
  if error is None:
    assert train_lib.train(cfg, verbose=False).step == 2
  else:
    with pytest.raises(error):
      train_lib.train(cfg, verbose=False)
  assert run_folder.LOCK_FILE not in os.listdir(cfg.model_dir)
  with run_folder.lock_folder(cfg.model_dir):  # and nothing holds it
    pass


@pytest.mark.slow
def test_a_folder_of_other_files_is_refused_and_a_run_that_fails_early_leaves_nothing(
    tmp_path, photo_folder, style_path):
  theirs = tmp_path / "project"
  theirs.mkdir()
  (theirs / "losses.csv").write_text("epoch,acc\n1,0.5\n")  # the user's own
  before = folder_state(theirs)
  cfg = make_config(theirs, photo_folder, style_path, steps=1)
  with pytest.raises(ValueError, match=r"project holds files that are not a training run "
                     r"\(losses.csv\); give a new or empty folder"):
    train_lib.train(cfg, verbose=False)
  assert folder_state(theirs) == before
  # A loss-weights file that does not fit fails once the run holds its folder: what the run
  # wrote goes, so another setting can start there (its config.json would refuse it).
  bad = tmp_path / "bad.h5"
  bad.write_bytes(b"not weights")
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=1)
  cfg.loss_net.name, cfg.loss_net.weights = "vgg16", str(bad)
  with pytest.raises(ValueError, match="does not fit"):
    train_lib.train(cfg, verbose=False)
  assert os.listdir(cfg.model_dir) == []  # its lock file too
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=1)
  with pytest.MonkeyPatch.context() as patch:  # (a step without training: no tracing)
    patch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))
    assert train_lib.train(cfg, verbose=False).step == 1


@pytest.mark.slow
def test_resuming_with_settings_that_change_what_is_learned(tmp_path, photo_folder,
                                                            style_path, mirrored, monkeypatch):
  # Settings and what is recorded of them, not what a step learns: steps without training.
  monkeypatch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))
  style = str(tmp_path / "style.png")
  shutil.copy(style_path, style)
  cfg = make_config(tmp_path / "run", photo_folder, style, steps=1)
  saved_run(cfg, (1,))
  # Free: more steps, other save intervals and devices, the folder spelled otherwise, and an
  # identical style image elsewhere.
  moved = str(tmp_path / "moved.png")
  shutil.move(style, moved)
  free = make_config(str(tmp_path / "run") + "/.", photo_folder, moved, steps=1,
                     checkpoint_every=1, summary_every=2, strategy="mirrored", cpu_devices=2)
  result = train_lib.train(free, mirrored, verbose=False)
  assert result.step == 1 and result.config_changes == []
  # The same path with other content is another style.
  Image.open(moved).rotate(90).save(moved)
  before = folder_state(cfg.model_dir)
  restyled = make_config(tmp_path / "run", photo_folder, moved, steps=2, learning_rate=0.01)
  with pytest.raises(ValueError, match=r"other settings: style image content .*moved.png; "
                     r"sha256 \w{12} -> \w{12}\); --learning_rate 0.001 -> 0.01\. "
                     r".*--allow_config_change"):
    train_lib.train(restyled, verbose=False)
  assert folder_state(cfg.model_dir) == before
  # Allowed explicitly: the changes are reported and recorded.
  result = train_lib.train(restyled, verbose=False, allow_config_change=True)
  assert len(result.config_changes) == 2
  saved = json.load(open(os.path.join(cfg.model_dir, "config.json")))
  assert saved["learning_rate"] == 0.01
  # ... and kept, with the step they took effect from and the settings they replaced.
  [entry] = run_folder.history(cfg.model_dir)
  assert entry["step"] == 1 and entry["changes"] == result.config_changes
  assert entry["previous"]["learning_rate"] == 0.001
  # ... and trained with: the checkpoint's own learning rate does not win.
  reader = tf.train.load_checkpoint(cfg.model_dir)
  key = next(k for k in reader.get_variable_to_shape_map() if "learning_rate" in k)
  assert reader.get_tensor(key) == pytest.approx(0.01)
  assert saved["data"]["style_sha256"] == hashlib.sha256(open(moved, "rb").read()).hexdigest()


@pytest.mark.slow
def test_ctrl_c_stops_between_steps_with_a_checkpoint_there(tmp_path, photo_folder, style_path,
                                                           monkeypatch):
  # Steps without training (untrained_steps): where the loop stops and what it keeps is tested here,
  # not what a step learns (tracing one costs ~5 s).
  monkeypatch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=1000, summary_every=2,
                    checkpoint_every=1000)
  handlers = []

  def press_ctrl_c(step, model):
    del model
    if step == 2:
      handlers.append(signal.getsignal(signal.SIGINT))
      if handlers[0] is not signal.default_int_handler:  # else it would stop pytest itself
        os.kill(os.getpid(), signal.SIGINT)

  with pytest.raises(train_lib.Interrupted,
                     match="stopped at step 2; checkpoint ckpt-2 .step 2. is intact; the same "
                           "command resumes from it") as e:
    train_lib.train(cfg, verbose=False, on_summary=press_ctrl_c)
  assert isinstance(e.value, KeyboardInterrupt)
  assert handlers[0] is not signal.default_int_handler
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
  assert tf.train.latest_checkpoint(cfg.model_dir).endswith("ckpt-2")
  step = tf.train.load_checkpoint(cfg.model_dir).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
  assert step == 2  # the checkpoint holds the state after the last logged step
  log = open(os.path.join(cfg.model_dir, "losses.csv")).read().splitlines()
  assert [row.split(",")[0] for row in log[1:]] == ["1", "2"]


@pytest.mark.slow
def test_on_summary_sees_the_model_at_step_0_and_each_summary(tiny_run):
  _, _, seen = tiny_run
  assert [step for step, _ in seen] == [0, 2, 4]
  assert not np.array_equal(seen[0][1], seen[-1][1])  # the model it sees is the trained one


@pytest.mark.slow
def test_mixed_precision_computes_in_float16_and_keeps_float32_variables(tmp_path,
                                                                         photo_folder,
                                                                         style_path):
  import keras
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=3, mixed_precision=True)
  result = train_lib.train(cfg, verbose=False)
  assert result.step == 3 and all(np.isfinite(v) for v in result.last_losses.values())
  assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
  dtypes = tf.train.load_checkpoint(cfg.model_dir).get_variable_to_dtype_map()
  assert "optimizer/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in dtypes  # loss scaling
  assert tf.float16 not in dtypes.values()  # variables stay float32
  from fastchi_tf import export
  restored = export.restore_render_net(cfg.model_dir)  # exports build a float32 model
  assert restored(np.zeros((1, 16, 16, 3), np.float32)).dtype == "float32"
  # A float32 run cannot resume a mixed-precision checkpoint (its optimizer differs).
  with pytest.raises(ValueError, match="different mixed_precision"):
    train_lib.train(make_config(tmp_path / "run", photo_folder, style_path, steps=4),
                    verbose=False)


def test_mixed_precision_layers_compute_in_float16():
  import keras
  from fastchi_tf import precision
  with precision.dtype_policy(True):
    model = train_lib.build_render_net("inception", width=8)
  assert keras.mixed_precision.global_policy().name == "float32"
  out = model(np.zeros((1, 16, 16, 3), np.float32))
  assert out.dtype == "float16" and model.weights[0].dtype == "float32"


@pytest.mark.slow
def test_stop_when_ends_the_run_early_with_a_checkpoint_there(tmp_path, photo_folder,
                                                              style_path, monkeypatch):
  # Steps without training (_steps), as above: two runs would trace a step each (~5 s).
  monkeypatch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=1000, summary_every=3,
                    checkpoint_every=1000)
  asked = []

  def stop_when(step, model):
    asked.append((step, model.name))
    return step >= 3

  result = train_lib.train(cfg, verbose=False, stop_when=stop_when)
  # Asked before the first step and between calls of the compiled loop (each ends at a
  # summary here); True ends the run where it is, with a checkpoint though 3 is no boundary.
  assert [step for step, _ in asked] == [0, 3]
  assert all(name == asked[0][1] for _, name in asked)
  assert result.step == 3
  assert tf.train.latest_checkpoint(cfg.model_dir).endswith("ckpt-3")
  log = open(os.path.join(cfg.model_dir, "losses.csv")).read().splitlines()
  assert [row.split(",")[0] for row in log[1:]] == ["1", "2", "3"]
  # The same run resumes from there, and stop_when is asked again from step 3.
  asked.clear()
  result = train_lib.train(cfg, verbose=False, stop_when=lambda step, model: (
      asked.append((step, model.name)) or step >= 4))
  assert result.step == 6 and [step for step, _ in asked] == [3, 6]


@pytest.mark.slow  # over 3 CPU-s: make test, not test-fast
def test_a_sliced_wasserstein_run_trains_and_its_resume_knows_the_loss_changed(
    tmp_path, photo_folder, style_path):
  cfg = make_config(tmp_path / "run", photo_folder, style_path, steps=6, learning_rate=0.01,
                    checkpoint_every=6, loss=dict(style_statistic="swd"),
                    loss_net=dict(style_layers=("relu1_2", "relu2_2", "pixels")))
  train_lib.train(cfg, verbose=False)
  log = np.loadtxt(os.path.join(cfg.model_dir, "losses.csv"), delimiter=",", skiprows=1)
  style = log[:, 3]
  assert np.isfinite(log).all() and style[-2:].mean() < style[:2].mean()
  # The same run's terms under Gram matrices measure something else: a resume with them
  # starts its loss-jump guard afresh rather than judge against the swd steps.
  gram = _trainer(config_lib.replace(cfg, loss=dict(style_statistic="gram")), style_path)
  assert gram.restore() == 6
  kept, why = gram.restored_window()
  assert len(kept) == 0 and "--style_statistic changed what the loss measures" in why
