"""Flags every experiment script takes, defined once so that scripts (and tests) can import
one another; each script's docstring says what --quick changes there."""

from absl import flags

QUICK = flags.DEFINE_bool("quick", False, "Small, fast settings (minutes on 2 CPU cores).")
OUT_DIR = flags.DEFINE_string("out_dir", None,
                              "Results folder (default experiments/results/<name>/).")
WORK_DIR = flags.DEFINE_string("work_dir", None, "Scratch folder for training runs.")
TRAIN_DATA = flags.DEFINE_string("train_data", None, "Training photos (default: scikit-image's).")
REPORT_ONLY = flags.DEFINE_bool("report_only", False, "Rewrite report.md from results.json.")
