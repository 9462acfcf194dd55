"""The shipped style collection (fastchi_tf/shipped): its recipe and what is measured of it.

styles.py trains the collection in resumable parts; the others measure it: speed of its
exports, their accuracy, its worth against optimization, its stability on video, and which
objective the next recipe should train on. python -m experiments.shipped.NAME.
"""
