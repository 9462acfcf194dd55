"""`make demo`: trains, exports and stylizes offline; prints where the results are."""

from absl import flags

from fastchi_tf import cli

_OUT = flags.DEFINE_string("out_dir", "demo_out", "Folder for everything the demo writes.")
_STEPS = flags.DEFINE_integer("steps", 300, "Training steps.", lower_bound=1)


def main(argv):
  del argv
  cli.import_tensorflow_quietly()
  from fastchi_tf import demo
  try:
    paths = demo.run_demo(_OUT.value, _STEPS.value)
  except KeyboardInterrupt:
    cli.interrupted(f"run the same command to start again; {_OUT.value}/run resumes")
  print("\nDemo results:")
  print(f"  preview while training: {paths['preview']}")
  print(f"  stylized photo:        {paths['stylized']}")
  print(f"  colours preserved:     {paths['preserved_color']}")
  print(f"  before / style / after: {paths['before_after']}")
  print(f"  loss curve:            {paths['loss_curve']}")
  print(f"  exported models:       {paths['export']}")
  print(f"  generated clip:        {paths['clip']}")
  print(f"  stylized clip (audio): {paths['clip_stylized']}")


if __name__ == "__main__":
  cli.run(main)
