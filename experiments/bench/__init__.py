"""Benchmarks of speed and memory on the machine at hand, each against a stated target.

Inference against the machine's measured peak, training, input, video end to end, memory,
every export at every size, a cold start, and the web page under load.
python -m experiments.bench.NAME.
"""
