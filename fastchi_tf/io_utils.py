"""fastchi_tf.light.io_utils under its old name, for code another change is editing now
(experiments/styles.py, experiments/objective_calibration.py, fastchi_tf/serve_engine.py).
The same module object, not a copy; import fastchi_tf.light.io_utils in new code."""

import sys

from fastchi_tf.light import io_utils

sys.modules[__name__] = io_utils
