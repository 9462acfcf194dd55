"""The shipped network against optimization: how many L-BFGS iterations it is worth.

Johnson et al. 2016 (Fig. 5) compare their feed-forward networks with Gatys et al.'s
optimization on the same objective and find that one pass matches 50-100 L-BFGS iterations.
Here, per style of the shipped collection (fastchi_tf/shipped/model.keras) and per held-out
BSDS500 test/ photo at each size: the training objective (the recipe's loss network, loss
weights and style targets, experiments/shipped/styles.py) of the network's output, and of the
photo's pixels optimized by L-BFGS-B (bounds [0, 255], starting from the photo, as Johnson
et al. do) after each of `iterations` iterations. A style "matches N iterations" when its
network's mean objective over the photos is at most the optimization's after N; the goal
(issue 14) is at least 100.

Command: python -m experiments.shipped.optimization_baseline [--quick]
Run time on 2 CPU cores shared with a training run: L-BFGS at 256 px took ~2 s per
iteration (fewer on a quiet machine), about 4x that at 512 px; the full setting (3 photos,
256 and 512 px, 500 iterations, 6 styles) takes a day or more, --quick (1 photo, 256 px, 100
iterations) ~25 min. Needs ../shared/data (the paintings and BSDS500 test/).
Writes experiments/results/optimization_baseline/.
"""

import dataclasses
import os

import numpy as np

from experiments.lib import reporting
from experiments.lib import runner
from experiments.lib import training


@dataclasses.dataclass(frozen=True)
class Config:
  sizes: tuple = (256, 512)
  photos: int = runner.flag(3, "Held-out BSDS500 test/ photos per style.")
  iterations: tuple = (10, 20, 50, 100, 200, 500)


FULL = Config()
QUICK = Config(sizes=(256,), photos=1, iterations=(10, 20, 50, 100))


def _objective_pieces():
  """(loss network, {style: grams}, loss settings) of the third recipe's final stage, the
  objective of the network it measures."""
  from experiments.shipped import styles  # pylint: disable=g-import-not-at-top
  from fastchi_tf import build_loss_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import data  # pylint: disable=g-import-not-at-top
  from fastchi_tf import losses  # pylint: disable=g-import-not-at-top
  from fastchi_tf.light import styles as styles_lib  # pylint: disable=g-import-not-at-top
  cfg = styles.train_config(styles.THIRD, "unused", "unused", styles.THIRD.stages[-1])
  net = cfg.loss_net
  loss_net = build_loss_net(net.name, weights=net.weights, content_layers=net.content_layers,
                            style_layers=net.style_layers)
  grams = {}
  for path in styles_lib.style_files(cfg.data.style_image):
    name = os.path.splitext(os.path.basename(path))[0]
    grams[name] = losses.style_targets(loss_net, data.read_image(path), cfg.data.style_size)
  return loss_net, grams, cfg.loss


def make_objective(loss_net, grams, loss_cfg, photo):
  """f(image [1, h, w, 3] float32) -> (objective, gradient) for one photo and style."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from fastchi_tf import losses  # pylint: disable=g-import-not-at-top
  content = loss_net(photo.astype(np.float32)[None])

  @tf.function
  def value_and_grad(image):
    with tf.GradientTape() as tape:
      tape.watch(image)
      total, _ = losses.perceptual_loss(
          loss_net(image), content, grams, image, loss_net.content_layers,
          content_weight=loss_cfg.content_weight, style_weight=loss_cfg.style_weight,
          tv_weight=loss_cfg.tv_weight, reduction=loss_cfg.reduction,
          style_layer_norm=loss_cfg.style_layer_norm)
      total = tf.reduce_sum(total)
    return total, tape.gradient(total, image)

  return value_and_grad


def lbfgs(value_and_grad, photo, iterations):
  """{k: objective after k L-BFGS-B iterations} for k in `iterations`, from the photo."""
  import scipy.optimize  # pylint: disable=g-import-not-at-top
  shape = (1,) + photo.shape
  recorded, done = {}, [0]

  def f(x):
    value, grad = value_and_grad(x.reshape(shape).astype(np.float32))
    return float(value), grad.numpy().astype(np.float64).ravel()

  def on_iteration(x):
    done[0] += 1
    if done[0] in iterations:
      recorded[done[0]] = f(x)[0]

  scipy.optimize.minimize(f, photo.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                          bounds=[(0.0, 255.0)] * photo.size, callback=on_iteration,
                          options={"maxiter": max(iterations), "maxcor": 10, "gtol": 0.0,
                                   "ftol": 0.0})
  last = recorded[max(recorded)] if recorded else f(photo.astype(np.float64).ravel())[0]
  return {k: recorded.get(k, last) for k in iterations}  # stopped early: the last value


def run(cfg, out_dir):
  del out_dir
  import keras  # pylint: disable=g-import-not-at-top
  from fastchi_tf import render_net  # pylint: disable=g-import-not-at-top
  from fastchi_tf import shipped  # pylint: disable=g-import-not-at-top
  loss_net, grams, loss_cfg = _objective_pieces()
  model = keras.saving.load_model(shipped.path("keras"), safe_mode=True)
  step = shipped.step()  # of the network measured, read before the long run
  names = render_net.style_names(model)
  rows = []
  for size in cfg.sizes:
    photo_names, photos = training.bsds_test_photos(cfg.photos, size)
    for k, style in enumerate(names):
      weights = np.eye(len(names), dtype=np.float32)[k:k + 1]
      for photo_name, photo in zip(photo_names, photos):
        objective = make_objective(loss_net, grams[style], loss_cfg, photo)
        out = model([photo[None].astype(np.float32), weights], training=False)
        network = float(objective(np.clip(np.round(out.numpy()), 0, 255).astype(
            np.float32))[0])
        optimized = lbfgs(objective, photo, cfg.iterations)
        rows.append({"size": size, "style": style, "photo": photo_name, "network": network,
                     "photo_objective": float(objective(photo[None].astype(np.float32))[0]),
                     "lbfgs": {str(i): v for i, v in optimized.items()}})
        print(rows[-1], flush=True)
  return {"rows": rows, "styles": list(names), "shipped_step": step}


def matched(summary):
  """{(size, style): (network mean, {iterations: optimization mean}, iterations matched)}."""
  result = {}
  iterations = summary["config"]["iterations"]
  for size in summary["config"]["sizes"]:
    for style in summary["styles"]:
      rows = [r for r in summary["rows"] if r["size"] == size and r["style"] == style]
      if not rows:
        continue
      network = float(np.mean([r["network"] for r in rows]))
      means = {i: float(np.mean([r["lbfgs"][str(i)] for r in rows])) for i in iterations}
      worth = max([i for i in iterations if network <= means[i]], default=0)
      result[(size, style)] = (network, means, worth)
  return result


def report(summary, out_dir):
  del out_dir
  machine = summary["machine"]
  cfg = summary["config"]
  found = matched(summary)
  header = ["size", "style", "network"] + [f"L-BFGS {i}" for i in cfg["iterations"]] + [
      "network matches"]
  rows = [[f"{size} px", style, f"{network:.4g}"] + [f"{means[i]:.4g}"
                                                      for i in cfg["iterations"]]
          + [f"{worth} iterations" if worth else f"< {cfg['iterations'][0]} iterations"]
          for (size, style), (network, means, worth) in found.items()]
  lines = [
      "# The shipped network against L-BFGS optimization of the same objective",
      "",
      f"Mean training objective over {cfg['photos']} held-out BSDS500 test/ photo(s) per "
      "style and size: the shipped network's output, and the photo optimized by L-BFGS-B "
      "from itself for each number of iterations. Lower is better.",
      "",
      f"Shipped network: step {summary.get('shipped_step') or 'unknown'} of its recipe.",
      "",
      f"Machine: {machine.get('cpu_model', 'unknown CPU')}."
      + (" Quick settings: one photo at 256 px, up to 100 iterations." if summary["quick"]
         else ""),
      "",
      reporting.markdown_table(header, rows),
      "",
  ]
  return "\n".join(lines)


def finding(summary):
  found = matched(summary)
  worth = [w for (_, _, w) in found.values()]
  first = summary["config"]["iterations"][0]
  below = sum(w == 0 for w in worth)
  if max(worth) == 0:
    span = f"fewer than {first}"
  elif below:
    span = f"at most {max(worth)} (fewer than {first} in {below} of {len(worth)} cases)"
  else:
    span = f"{min(worth)}-{max(worth)}"
  step = summary.get("shipped_step")
  return ((f"step {step}: " if step else "")
          + f"the network matches {span} L-BFGS iterations across styles and sizes "
          f"(goal: at least 100)")


if __name__ == "__main__":
  runner.main(__name__)
