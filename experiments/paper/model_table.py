"""Parameter counts and GFLOPs per frame of the render networks (experiments/README.md).

Command: python -m experiments.paper.model_table [--size 256]
Run time: about 10 s on 2 CPU cores (QUICK and FULL are the same). FLOPs are counted from the
traced graph's convolution shapes (fastchi_tf.flops), so they follow the code.
Writes results.json and report.md (the table) to experiments/results/model_table/.
"""

import dataclasses

from experiments.lib import reporting
from experiments.lib import runner
from fastchi_tf import build_render_net
from fastchi_tf.flops import count_flops


@dataclasses.dataclass(frozen=True)
class Config:
  size: int = runner.flag(256, "Square frame size for the FLOP count.")
  # (variant, width, k); k is None for the original network, which has none.
  networks: tuple = (("original", 32, None), ("original", 16, None), ("inception", 32, 2),
                     ("inception", 32, 4), ("inception", 16, 2), ("inception", 16, 4))


FULL = QUICK = Config()


def run(cfg, out_dir):
  del out_dir  # numbers only
  rows = []
  for variant, width, shrink in cfg.networks:
    model = build_render_net(variant, width=width, shrink=shrink or 2)
    rows.append(dict(variant=variant, width=width, shrink=shrink,
                     parameters=model.count_params(),
                     gflop_per_frame=count_flops(model, cfg.size, cfg.size) / 1e9))
  return dict(rows=rows)


def table(summary):
  size = summary["config"]["size"]
  return reporting.markdown_table(
      ["network", "width", "k", "parameters", f"GFLOP per {size}x{size} frame"],
      [[r["variant"], r["width"], r["shrink"] or "-", f"{r['parameters']:,}",
        f"{r['gflop_per_frame']:.2f}"] for r in summary["rows"]])


def report(summary, out_dir):
  del out_dir  # no figures
  return f"""# Render networks: parameters and FLOPs

FLOPs are counted from the traced graph's convolution shapes (fastchi_tf.flops).

{table(summary)}
"""


if __name__ == "__main__":
  runner.main(__name__)
