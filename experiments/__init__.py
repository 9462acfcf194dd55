"""The paper's figures, benchmarks and tables: each module here is one experiment.

Run one from the repository root (experiments/ is not installed):
  python -m experiments.NAME [--quick] [--report_only] [--out_dir DIR]
Its docstring says what it measures, its command lines and run times; its results (numbers
in results.json, figures, report.md) are in experiments/results/NAME/. experiments/lib/
holds what the experiments share; experiments/lib/runner.py describes their common shape.
"""
