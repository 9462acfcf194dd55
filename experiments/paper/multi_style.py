r"""Many styles in one network: conditional instance normalization against one network per style.

Dumoulin, Shlens and Kudlur (ICLR 2017) train one network for N styles whose convolutions are
shared and whose normalization layers have a scale and a shift per style, and find it matches
N separate networks at a fraction of the parameters, and that a new style added by training
only its scales and shifts learns in a fraction of the steps. This experiment measures both
claims on FastChi's inception network:

  1. N single-style networks, each trained `steps` steps, against one N-style network trained
     N x `steps` steps (so every style sees the same number of training examples): the final
     style and content terms of the training objective (unweighted) per style on held-out
     photos, and the parameter count of each;
  2. a new style added to the N-style network with --finetune_from (only its scales and
     shifts train) for `finetune_steps` steps, against a single-style network trained from
     scratch for the same steps, and the one of (1) trained `steps` steps.

Writes to experiments/results/multi_style/: results.json, report.md, losses.png (style and
content loss per style, both ways), outputs.png (a held-out photo in every style, both ways,
and the new style's three versions).

Data: the paintings of ../shared/data/styles (the last one is the added style), training on
BSDS500 train/ and val/, measured on BSDS500 test/. Without ../shared, scikit-image's photos
stand in for both (and the report says so).

Commands and run times on 2 CPU cores:
  python -m experiments.paper.multi_style --quick   # 3 + 1 styles, w16, 96 px, batch 4,
                                                    # 150 steps per style: ~15 min
  python -m experiments.paper.multi_style           # 5 + 1 styles, w32, 256 px, batch 4,
                                                    # 2000 steps per style: ~2 days
"""

import dataclasses
import os
import shutil
from typing import Optional

import numpy as np

from experiments.lib import runner
from experiments.lib import training
from fastchi_tf import plots
from fastchi_tf import samples

SHARED = training.SHARED
# scikit-image images that stand in for paintings without ../shared: strong textures.
STAND_INS = ("ihc.png", "brick.png", "rocket.jpg", "coffee.png")


@dataclasses.dataclass(frozen=True)
class Config:
  styles: int = 5  # trained together; the next painting is the added one
  width: int = 32
  image_size: int = 256
  style_size: int = 512
  batch_size: int = 4
  steps: int = 2000  # per style
  finetune_steps: int = 500
  eval_photos: int = 8
  eval_size: int = 256
  seed: int = 0
  work_dir: Optional[str] = runner.flag(
      None, "Scratch folder for the training runs (default: a temp folder).")
  train: bool = runner.flag(True, "Train the networks (--notrain: measure the runs already "
                            "in --work_dir again).")


FULL = Config()
QUICK = Config(styles=3, width=16, image_size=96, style_size=192, steps=150, finetune_steps=50,
               eval_photos=6, eval_size=128)


def _style_files(cfg):
  """The style images (paths): cfg.styles trained together, then the added one."""
  folder = os.path.join(SHARED, "styles")
  if os.path.isdir(folder):
    files = sorted(os.path.join(folder, n) for n in os.listdir(folder))
  else:
    files = [samples.skimage_path(n) for n in STAND_INS]
  if len(files) < cfg.styles + 1:
    raise ValueError(f"{cfg.styles + 1} styles needed, {len(files)} found")
  return files[:cfg.styles + 1]


def _eval_photos(cfg):
  """Held-out photos: BSDS500 test/, else scikit-image's that the demo does not train on."""
  found = training.bsds_test_photos(cfg.eval_photos, cfg.eval_size)
  if found:
    return found
  names = [n for n in samples.TEST_PHOTOS if n not in samples.TRAIN_PHOTOS]
  return names, np.stack([training.load_photo(n, cfg.eval_size) for n in names])


def _config(cfg, model_dir, train_data, style_image, steps, **changes):
  return training.derive(
      model_dir=model_dir, render=dict(variant="inception", width=cfg.width, shrink=2),
      data=dict(train_data=train_data, image_size=cfg.image_size, style_image=style_image,
                style_size=cfg.style_size),
      batch_size=cfg.batch_size, steps=steps, checkpoint_every=steps, summary_every=steps,
      seed=cfg.seed, **changes)


def _train(tcfg, train=True):
  """Trains `tcfg` afresh (unless `train` is False: the run is there); returns its restored
  Trainer and parameter count."""
  from fastchi_tf import train_lib  # pylint: disable=g-import-not-at-top
  if train:
    if os.path.exists(tcfg.model_dir):
      shutil.rmtree(tcfg.model_dir)
    train_lib.train(tcfg)
  trainer = training.restored_trainer(tcfg.model_dir)
  return trainer, int(trainer.model.count_params())


def run(cfg, out_dir):
  work = training.scratch_dir("multi_style", cfg.work_dir)
  train_data = (training.bsds_training_folder(work)
                or training.offline_photos(os.path.join(work, "photos")))
  files = _style_files(cfg)
  together, added = files[:-1], files[-1]
  names = [os.path.splitext(os.path.basename(f))[0] for f in files]
  photo_names, photos = _eval_photos(cfg)

  single, single_params, shown = {}, {}, {}
  for name, path in zip(names, files):
    trainer, single_params[name] = _train(_config(
        cfg, os.path.join(work, f"single_{name}"), train_data, path, cfg.steps), cfg.train)
    losses, outputs = training.style_losses(trainer, photos)
    single[name], shown[("single", name)] = losses[""], outputs[0][0]

  multi_dir = os.path.join(work, "multi")
  trainer, multi_params = _train(_config(cfg, multi_dir, train_data, ",".join(together),
                                         cfg.steps * cfg.styles), cfg.train)
  multi, outputs = training.style_losses(trainer, photos)
  for k, name in enumerate(names[:-1]):
    shown[("multi", name)] = outputs[k][0]

  # The added style: fine-tuned onto the multi-style network, and from scratch, same steps.
  trainer, finetuned_params = _train(_config(
      cfg, os.path.join(work, "finetuned"), train_data, added, cfg.finetune_steps,
      finetune_from=multi_dir), cfg.train)
  finetuned, outputs = training.style_losses(trainer, photos)
  shown[("finetuned", names[-1])] = outputs[0][0]
  # Only the new style's row of each [N, C] scale and shift trains.
  trained_vars = int(sum(v.shape[-1] for v in trainer.train_vars)) * len(trainer.trained_names)
  trainer, _ = _train(_config(cfg, os.path.join(work, "scratch"), train_data, added,
                              cfg.finetune_steps), cfg.train)
  scratch, outputs = training.style_losses(trainer, photos)
  shown[("scratch", names[-1])] = outputs[0][0]

  _outputs_figure(photos[0], names, shown, cfg.steps, cfg.finetune_steps,
                  os.path.join(out_dir, "outputs.png"))
  return {
      "styles": names[:-1], "added_style": names[-1], "eval_photos": photo_names,
      "shared_data": os.path.isdir(SHARED),
      "single": single, "multi": multi,
      "parameters": {"single_each": single_params[names[0]], "multi": multi_params,
                     "multi_with_added": finetuned_params,
                     "finetune_trained": trained_vars},
      "added": {"finetuned": finetuned[names[-1]], "scratch_same_steps": scratch[""],
                "single_full_steps": single[names[-1]]},
  }


def _outputs_figure(photo, names, shown, steps, finetune_steps, path):
  """Rows: one held-out photo in each style by the single-style networks, then by the
  multi-style one; and the added style fine-tuned, from scratch at the same steps, and from
  scratch at full steps."""
  rows = [[(photo, "photo")] + [(shown[("single", n)], f"own network: {n}") for n in names[:-1]],
          [(photo, "photo")] + [(shown[("multi", n)], f"multi-style: {n}") for n in names[:-1]],
          [(photo, f"added: {names[-1]}"),
           (shown[("finetuned", names[-1])], f"fine-tuned, {finetune_steps} steps"),
           (shown[("scratch", names[-1])], f"from scratch, {finetune_steps} steps"),
           (shown[("single", names[-1])], f"from scratch, {steps} steps")]]
  plots.labelled_rows(rows, path, scale=2.6)


def _ratio(a, b):
  return a / b if b else float("nan")


def report(summary, out_dir):
  cfg = summary["config"]
  names, added = summary["styles"], summary["added_style"]
  _losses_figure(summary, os.path.join(out_dir, "losses.png"))
  params = summary["parameters"]
  n = len(names)
  data_line = ("BSDS500 train/ + val/ for training, BSDS500 test/ for measuring, the "
               "paintings of ../shared/data/styles" if summary["shared_data"] else
               "scikit-image photos and stand-in styles (../shared/data was not there)")
  lines = [
      "# Many styles in one network",
      "",
      f"Inception network, width {cfg['width']}, k 2, {cfg['image_size']} px crops, batch "
      f"{cfg['batch_size']}; data: {data_line}. Each single-style network trained "
      f"{cfg['steps']} steps; the {n}-style network {cfg['steps'] * n} steps (the same "
      f"examples per style). Losses: the training objective's unweighted style and content "
      f"terms, mean over {len(summary['eval_photos'])} held-out photos at {cfg['eval_size']} "
      "px." + (" Quick settings: a check of the method at toy scale, not a converged result."
               if summary["quick"] else ""),
      "",
      "| style | style loss, own network | style loss, multi-style | ratio | "
      "content loss, own | content loss, multi | ratio |",
      "|---|---|---|---|---|---|---|",
  ]
  style_ratios, content_ratios = [], []
  for name in names:
    s, m = summary["single"][name], summary["multi"][name]
    style_ratios.append(_ratio(m["style"], s["style"]))
    content_ratios.append(_ratio(m["content"], s["content"]))
    lines.append(f"| {name} | {s['style']:.4g} | {m['style']:.4g} | {style_ratios[-1]:.2f} | "
                 f"{s['content']:.4g} | {m['content']:.4g} | {content_ratios[-1]:.2f} |")
  add = summary["added"]
  lines += [
      "",
      f"Parameters: one single-style network {params['single_each']:,}; {n} of them "
      f"{params['single_each'] * n:,}; the {n}-style network {params['multi']:,} "
      f"({params['multi'] / (params['single_each'] * n):.0%} of {n} networks; each style "
      f"adds {(params['multi_with_added'] - params['multi']):,} parameters).",
      "",
      f"Added style ({added}), {cfg['finetune_steps']} steps:",
      "",
      "| network | parameters trained | style loss | content loss |",
      "|---|---|---|---|",
      f"| fine-tuned onto the {n}-style network | {params['finetune_trained']:,} | "
      f"{add['finetuned']['style']:.4g} | {add['finetuned']['content']:.4g} |",
      f"| single-style from scratch, same steps | {params['single_each']:,} | "
      f"{add['scratch_same_steps']['style']:.4g} | {add['scratch_same_steps']['content']:.4g} |",
      f"| single-style from scratch, {cfg['steps']} steps | {params['single_each']:,} | "
      f"{add['single_full_steps']['style']:.4g} | {add['single_full_steps']['content']:.4g} |",
      "",
      "## What it found",
      "",
      finding(summary),
      "",
      "Dumoulin et al. report that the N-style network's style and content losses match "
      "single-style networks' after the same training per style, and that a new style "
      "fine-tuned through its normalization parameters alone reaches in a fraction of the "
      "steps what training from scratch reaches.",
      "",
      "Losses per style, both ways: losses.png ![losses](losses.png)",
      "",
      "A held-out photo in every style (top: one network per style; middle: the multi-style "
      "network; bottom: the added style fine-tuned, from scratch at the same steps, and "
      "from scratch at full steps): outputs.png ![outputs](outputs.png)",
      "",
  ]
  return "\n".join(lines)


def finding(summary):
  names = summary["styles"]
  style = [_ratio(summary["multi"][n]["style"], summary["single"][n]["style"]) for n in names]
  content = [_ratio(summary["multi"][n]["content"], summary["single"][n]["content"])
             for n in names]
  params = summary["parameters"]
  add = summary["added"]
  return (f"one {len(names)}-style network has {params['multi'] / params['single_each']:.2f}x "
          f"the parameters of one single-style network; its style loss is "
          f"{np.median(style):.2f}x theirs (median over styles; range {min(style):.2f}-"
          f"{max(style):.2f}), content loss {np.median(content):.2f}x; the added style "
          f"fine-tuned for {summary['config']['finetune_steps']} steps reaches style loss "
          f"{add['finetuned']['style']:.3g} against {add['scratch_same_steps']['style']:.3g} "
          f"from scratch in the same steps")


def _losses_figure(summary, path):
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  names = summary["styles"]
  fig, axes = plt.subplots(1, 2, figsize=(3 + 1.2 * len(names), 3.2), squeeze=False)
  x = np.arange(len(names))
  for ax, term in zip(axes[0], ("style", "content")):
    ax.bar(x - 0.2, [summary["single"][n][term] for n in names], 0.4, label="own network")
    ax.bar(x + 0.2, [summary["multi"][n][term] for n in names], 0.4, label="multi-style")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_title(f"{term} loss (held out)")
  axes[0][0].legend(fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, path)


if __name__ == "__main__":
  runner.main(__name__)
