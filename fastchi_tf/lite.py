"""fastchi_tf.light.lite under its old name, for code another change is editing now
(experiments/styles.py, experiments/objective_calibration.py, fastchi_tf/serve_engine.py).
The same module object, not a copy; import fastchi_tf.light.lite in new code."""

import sys

from fastchi_tf.light import lite

sys.modules[__name__] = lite
