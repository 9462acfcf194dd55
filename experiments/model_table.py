"""Parameter counts and GFLOPs per frame of the render networks (the README's table).

Command: python experiments/model_table.py [--size 256]
Run time: about 10 s on 2 CPU cores. Prints a markdown table; FLOPs are counted from the
traced graph's convolution shapes (fastchi_tf.flops), so they follow the code.
"""

from absl import app
from absl import flags

from fastchi_tf import build_render_net
from fastchi_tf.flops import count_flops

_SIZE = flags.DEFINE_integer("size", 256, "Square frame size for the FLOP count.")

CONFIGS = [("original", 32, None), ("original", 16, None), ("inception", 32, 2),
           ("inception", 32, 4), ("inception", 16, 2), ("inception", 16, 4)]


def model_table(size):
  rows = ["| network | width | k | parameters | GFLOP per %dx%d frame |" % (size, size),
          "|---|---|---|---|---|"]
  for variant, width, shrink in CONFIGS:
    model = build_render_net(variant, width=width, shrink=shrink or 2)
    gflops = count_flops(model, size, size) / 1e9
    rows.append(f"| {variant} | {width} | {shrink or '-'} | {model.count_params():,} | "
                f"{gflops:.2f} |")
  return "\n".join(rows)


def main(argv):
  del argv
  print(model_table(_SIZE.value))


if __name__ == "__main__":
  app.run(main)
