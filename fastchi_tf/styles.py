"""fastchi_tf.light.styles under its old name, for code another change is editing now
(experiments/styles.py, experiments/objective_calibration.py, fastchi_tf/serve_engine.py).
The same module object, not a copy; import fastchi_tf.light.styles in new code."""

import sys

from fastchi_tf.light import styles

sys.modules[__name__] = styles
