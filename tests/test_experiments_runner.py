"""The one main of the experiments: flags from the Config, QUICK or FULL, results and report;
and the shape every experiment module has."""

import dataclasses
import importlib
import json
import os
import pkgutil
import types
from typing import Optional

from absl import flags
import pytest

import experiments
from experiments.lib import readme
from experiments.lib import reporting
from experiments.lib import runner
from experiments.lib import training
from run_helpers import untrained_steps


@dataclasses.dataclass(frozen=True)
class _Config:
  size: int = runner.flag(8, "A size.")
  scale: float = runner.flag(1.0, "A scale.")
  fast: bool = runner.flag(False, "Go fast.")
  model: Optional[str] = runner.flag(None, "A model.")
  rows: tuple = (1, 2)  # not a flag


def _experiment(tmp_path):
  """A module of the experiments' shape, whose run and report record their calls."""
  module = types.ModuleType("toy")
  module.__file__ = str(tmp_path / "toy.py")
  module.Config, module.FULL, module.QUICK = _Config, _Config(), _Config(size=2, rows=(1,))
  module.run = lambda cfg, out_dir: dict(total=cfg.size * cfg.scale, rows=list(cfg.rows))
  module.report = lambda summary, out_dir: f"total {summary['total']}, {summary['config']}"
  return module


def test_flags_are_the_flag_fields_and_default_to_the_chosen_config(tmp_path):
  module = _experiment(tmp_path)
  assert runner.flag_fields(_Config) == {"size": (int, "A size."), "scale": (float, "A scale."),
                                         "fast": (bool, "Go fast."), "model": (str, "A model.")}
  values = flags.FlagValues()
  runner.define_flags(module, values)
  values(["toy", "--quick", "--scale", "0.5", "--model", "m"])
  assert "default 8; --quick: 2" in values["size"].help
  overrides = {name: values[name].value for name in runner.flag_fields(_Config)}
  cfg = runner.chosen_config(module, values.quick, overrides)
  assert cfg == _Config(size=2, scale=0.5, model="m", rows=(1,))
  assert runner.chosen_config(module, False, overrides).size == 8


def test_execute_writes_numbers_with_their_config_and_report_only_redraws(tmp_path):
  module = _experiment(tmp_path)
  out_dir = str(tmp_path / "out")
  summary = runner.execute(module, module.QUICK, out_dir, quick=True)
  with open(os.path.join(out_dir, reporting.RESULTS)) as f:
    written = json.load(f)
  assert written == summary  # the report saw what --report_only will see
  assert summary["total"] == 2.0 and summary["rows"] == [1]
  assert summary["config"] == dict(size=2, scale=1.0, fast=False, model=None, rows=[1])
  assert summary["quick"] is True and summary["run_seconds"] >= 0
  assert {"cpus", "load_average", "load_average_at_end"} <= summary["machine"].keys()
  report_path = os.path.join(out_dir, reporting.REPORT)
  os.remove(report_path)
  text = runner.report_only(module, out_dir)
  assert text.startswith("total 2.0") and open(report_path).read() == text
  assert runner.name_of(module) == "toy"


def test_readme_command_names_the_flags_that_changed_the_config(tmp_path):
  module = _experiment(tmp_path)
  module.__name__ = "experiments.toy"
  summary = dict(quick=True, config=dict(size=2, scale=1.0, fast=True, model="m", rows=[1]))
  assert readme.command(module, summary) == "python -m experiments.toy --quick --fast --model m"


def _experiment_modules():
  """{name: kind} of the modules in experiments/'s subpackages but lib/."""
  found = {}
  for package in pkgutil.iter_modules(experiments.__path__):
    if package.ispkg and package.name != "lib":
      path = os.path.join(os.path.dirname(experiments.__file__), package.name)
      found.update({m.name: package.name for m in pkgutil.iter_modules([path])})
  return found


def test_experiments_package_holds_only_experiments_each_in_its_kind():
  assert not [m.name for m in pkgutil.iter_modules(experiments.__path__) if not m.ispkg]
  assert _experiment_modules() == readme.KIND
  assert set(readme.KIND) == set(readme.EXPERIMENTS) | {"model_table"}


@pytest.mark.parametrize("kind, name", sorted((k, n) for n, k in _experiment_modules().items()))
def test_every_experiment_has_the_one_shape(kind, name):
  module = importlib.import_module(f"experiments.{kind}.{name}")
  assert dataclasses.is_dataclass(module.Config)
  assert isinstance(module.FULL, module.Config) and isinstance(module.QUICK, module.Config)
  assert callable(module.run) and callable(module.report)
  assert f"python -m experiments.{kind}.{name}" in module.__doc__  # its command line
  assert "Run time" in module.__doc__ or "run times" in module.__doc__
  with open(module.__file__) as f:
    assert f.read().endswith('if __name__ == "__main__":\n  runner.main(__name__)\n')
  json.dumps(dataclasses.asdict(module.FULL))  # results.json records it


def test_derive_replaces_fields_of_sub_configs():
  cfg = training.derive(render=dict(width=8), loss=dict(reduction="sum"), steps=3)
  assert (cfg.render.width, cfg.render.variant, cfg.loss.reduction, cfg.loss_net.name) == (
      8, training.BASE.render.variant, "sum", training.BASE.loss_net.name)
  assert cfg.steps == 3 and cfg.data == training.BASE.data
  assert training.BASE.render.width == 32  # BASE itself is unchanged


def test_temporal_stability_blends_chooses_and_reports(tmp_path):
  import numpy as np
  from experiments.paper import temporal_stability as ts
  frames = [np.full((2, 2, 3), v, np.uint8) for v in (0, 100, 100)]
  assert [int(f[0, 0, 0]) for f in ts._blend(frames, 0.5)] == [0, 50, 75]
  clip = lambda e: dict(warping_error=e, input_error=1e-4, fps=1.0, frames=3,
                        content_vs_source=1.0)
  run = lambda w, style, error: dict(weight=w, style=style, content=5.0, train_seconds=None,
                                     clips={"demo clip": clip(error)})
  # Two seeds a weight: every number their mean (equal ones kept as they are).
  runs = {"w0": ts._mean_of_seeds([run(0.0, 9.0, 4e-3), run(0.0, 11.0, 4e-3)]),
          "w10": ts._mean_of_seeds([run(10.0, 10.0, 1.5e-3), run(10.0, 11.0, 0.5e-3)]),
          "w100": ts._mean_of_seeds([run(100.0, 15.0, 1e-4), run(100.0, 15.0, 1e-4)])}
  assert runs["w10"]["style"] == 10.5 and runs["w10"]["style_per_seed"] == [10.0, 11.0]
  assert runs["w10"]["clips"]["demo clip"]["warping_error"] == pytest.approx(1e-3)
  assert runs["w10"]["clips"]["demo clip"]["frames"] == 3 and runs["w0"]["weight"] == 0.0
  summary = dict(runs=runs, clips=["demo clip"], style_image="s.jpg", shared_data=False,
                 config={})
  summary["chosen"] = ts._choose(summary)
  assert summary["chosen"] == "w10"  # the largest within +10% style
  summary["compared"] = ts._compared(summary)
  summary["baseline"] = {"demo clip": dict(strength=0.6, warping_error=9e-4, target=1e-3,
                                           content_blend=2.0, content_chosen=1.0)}
  text = ts.report(summary, str(tmp_path))
  assert "Chosen weight: 10" in text and "x0.25" in text and ": met" in text
  assert "| 10 | 10.5 | 10, 11 |" in text  # each seed's style loss beside the mean
  # and each seed against weight 0's same seed
  assert "warping error x0.38, x0.12; style loss x1.11, x1.00." in text
  assert os.path.exists(tmp_path / "tradeoff.png")
  assert "less content on 1 of 1 clips" in ts.finding(summary)
  assert "(both the first seed)" in text  # results from before every seed was blended
  assert "below the unblended" not in text  # the blend's content 2 is above w0's 1


def test_temporal_stability_blends_every_seed_against_the_same_seed(tmp_path, monkeypatch):
  from experiments.paper import temporal_stability as ts
  clip = lambda e: dict(warping_error=e, input_error=1e-4, fps=1.0, frames=3,
                        content_vs_source=e * 1e3, style_of_frames=e * 1e2)
  run = lambda w, style, error: dict(weight=w, style=style, content=5.0, train_seconds=None,
                                     clips={"demo clip": clip(error)})
  runs = {"w0": ts._mean_of_seeds([run(0.0, 9.0, 4e-3), run(0.0, 11.0, 2e-3)]),
          "w10": ts._mean_of_seeds([run(10.0, 10.0, 1.5e-3), run(10.0, 11.0, 0.5e-3)])}

  def baseline(of_seed, chosen, clips, outputs, trainer):
    # Each seed's weight-0 frames, and the same seed's runs (the target is the seed's own).
    frames = outputs[("w0", "demo clip")]
    target = of_seed[chosen]["clips"]["demo clip"]["warping_error"]
    return {"demo clip": dict(strength=frames / 10, warping_error=target * (1 + frames),
                              target=target, content_blend=frames,
                              content_chosen=of_seed[chosen]["clips"]["demo clip"][
                                  "content_vs_source"],
                              style_blend=2 * frames, style_chosen=3.0)}

  monkeypatch.setattr(ts, "_baseline", baseline)
  found = ts._baseline_over_seeds(runs, "w10", {"demo clip": ([], None)},
                                  {("demo clip", 0): 1.0, ("demo clip", 1): 2.0}, None)
  entry = found["demo clip"]
  assert [x["strength"] for x in entry["seeds"]] == [0.1, 0.2]
  assert [x["target"] for x in entry["seeds"]] == [1.5e-3, 0.5e-3]
  assert entry["target"] == pytest.approx(1e-3) and entry["content_blend"] == 1.5
  summary = dict(runs=runs, clips=["demo clip"], style_image="s.jpg", shared_data=False,
                 config=dict(seeds=2, seed=0, steps=5), chosen="w10", compared="w10",
                 baseline=found)
  text = ts.report(summary, str(tmp_path))
  assert "| demo clip | 0.1, 0.2 |" in text  # each seed's strength
  assert "the baseline blends each" in text and "each seed's weight-0 frames" in text
  # seed 0: blend content 1 against 1.5 (keeps more), seed 1: 2 against 0.5 (keeps less)
  assert "less content than weight 10 on 1 of 2 clip-seed pairs" in text
  # the style term beside the content: seed 0's blend 2 against 3, seed 1's 4 against 3
  assert "| style, blended w0 | style, weight 10 |" in text and "| 3 | 3 |" in text
  # weight 0's own frames beside them: content (4 + 2) / 2 = 3 above the blend's 1.5
  assert "| 3 | 1.5 | 1 | 0.3 | 3 | 3 |" in text
  assert "content term below the unblended frames' own on demo clip (3 to 1.5)" in text
  assert "misses its target on 2; its style term is higher on 1." in text
  # on the seeds' means: content 1.5 against 1, style 3 against 3
  assert ts.finding(summary).endswith("less content on 1 of 1 clips and a higher style "
                                      "term on 0")
  assert "even the strongest blend tried" not in text  # said per seed instead
  json.dumps(found)  # equal seeds' entries must not make a cycle
  equal = ts._mean_of_seeds([run(0.0, 9.0, 4e-3), run(0.0, 9.0, 4e-3)])
  assert json.loads(json.dumps(equal))["seeds"][0]["style"] == 9.0


def test_temporal_stability_frame_terms_are_the_objectives_on_every_fourth_frame():
  import types
  import numpy as np
  import tensorflow as tf
  from experiments.paper import temporal_stability as ts
  from fastchi_tf import config as config_lib
  from fastchi_tf import losses

  class Net:  # features: the pixels themselves, one content and one style "layer"
    content_layers = ("c",)

    def __call__(self, x):
      x = tf.convert_to_tensor(x) / 255.0
      return {"c": x, "s": x}

  rng = np.random.default_rng(0)
  painting = rng.uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
  trainer = types.SimpleNamespace(
      loss_net=Net(), style_grams={"s": losses.gram_matrix(painting / 255.0)[0]},
      cfg=types.SimpleNamespace(loss=config_lib.LossConfig()))
  frames = [rng.integers(0, 256, (8, 8, 3), np.uint8) for _ in range(8)]
  outs = [np.clip(f.astype(int) + 40, 0, 255).astype(np.uint8) for f in frames]
  content, style = ts._terms_against_source(trainer, outs, frames)
  used = [(o.astype(np.float32)[None] / 255, f.astype(np.float32)[None] / 255)
          for o, f in zip(outs[::4], frames[::4])]  # frames 0 and 4
  assert content == pytest.approx(np.mean(
      [float(losses.content_loss(o, f)[0]) for o, f in used]), rel=1e-5)
  assert style == pytest.approx(np.mean(
      [float(losses.style_loss({"s": o}, trainer.style_grams)[0][0]) for o, _ in used]),
      rel=1e-5)
  assert ts._terms_against_source(trainer, frames, frames)[0] == 0.0


@pytest.mark.slow  # over 5 s: make test, not test-fast
def test_temporal_stability_sweep_flag_and_a_longer_fine_tune_goes_on(
    tmp_path, photo_folder, style_path, monkeypatch):
  from experiments.paper import temporal_stability as ts
  from fastchi_tf import train_lib
  # (which run goes on from where, not what it learns: steps without training)
  monkeypatch.setattr(train_lib.Trainer, "run_steps", untrained_steps(1.0))
  assert ts.weights(ts.QUICK) == ts.QUICK.weights
  assert ts.weights(dataclasses.replace(ts.QUICK, sweep="0,3e4")) == (0.0, 30000.0)
  for bad in ("3e4,0", "1,2", "0,x"):
    with pytest.raises(ValueError, match="--sweep"):
      ts.weights(dataclasses.replace(ts.QUICK, sweep=bad))
  # Weight 0's run fine-tuned 1 step past the shared start (step 1)...
  cfg = ts.Config(width=4, image_size=32, batch_size=1, pretrain_steps=1, steps=1,
                  style_size=32)
  done = ts._train_config(cfg, 0.0, str(tmp_path / "w0"), photo_folder, style_path, 2)
  training.train_afresh(done, on_summary=None)
  checkpoint = os.stat(tmp_path / "w0" / "ckpt-2.index")
  # ...goes on from step 2 when the sweep asks for 2 steps (there is no shared start left
  # to begin again from), and keeps the checkpoint it had.
  longer = dataclasses.replace(cfg, steps=2)
  tcfg, log = ts._train(longer, 0.0, str(tmp_path), photo_folder, style_path)
  assert ts._last_step(tcfg.model_dir) == 3 and list(log["step"]) == [2, 3]
  again = os.stat(tmp_path / "w0" / "ckpt-2.index")
  assert (again.st_ino, again.st_mtime_ns) == (checkpoint.st_ino, checkpoint.st_mtime_ns)
  # A run of other settings is not gone on from.
  other = ts._train_config(longer, 10.0, tcfg.model_dir, photo_folder, style_path, 4)
  assert ts._stopped_short(tcfg, 1) is False and ts._stopped_short(other, 1) is False
  assert ts._stopped_short(dataclasses.replace(tcfg, steps=4), 1)
  # The photos copied elsewhere (a work folder moved): the same run; other photos: not.
  import shutil
  moved = shutil.copytree(photo_folder, tmp_path / "moved")
  assert ts._same_settings(ts._train_config(longer, 0.0, tcfg.model_dir, str(moved),
                                            style_path, 3))
  os.remove(next(os.path.join(moved, n) for n in os.listdir(moved) if n.endswith(".jpg")))
  assert not ts._same_settings(ts._train_config(longer, 0.0, tcfg.model_dir, str(moved),
                                                style_path, 3))
