"""The experiments, by kind: each module of paper/, bench/ and shipped/ is one experiment.

  paper/    the FastChi paper's figures and tables, and the sweeps that extend them;
  bench/    benchmarks of speed and memory: training, input, inference, exports, video,
            start-up and the web page;
  shipped/  the shipped style collection: its recipe (styles.py trains it) and what is
            measured of it.

Run one from the repository root (experiments/ is not installed):
  python -m experiments.KIND.NAME [--quick] [--report_only] [--out_dir DIR]
Its docstring says what it measures, its command lines and run times; its results (numbers
in results.json, figures, report.md) are in experiments/results/NAME/, named by the module
alone. experiments/lib/ holds what the experiments share; experiments/lib/runner.py
describes their common shape. experiments/README.md lists them all, written from the
committed results by `python -m experiments.lib.readme --experiments_readme`.
"""
