"""What every experiment writes: results.json that says which machine ran it, markdown tables.

Other engineers run CPU-heavy jobs on the same machine, so absolute timings are noisy; the
JSON records the load average before and after, and scripts compare ratios measured within
one run.
"""

import json
import os
import platform
import statistics

import tensorflow as tf

from fastchi_tf.light import io_utils
# The CPU's vector ISA and oneDNN's, which the tools' runtime choice reads too.
from fastchi_tf.light.machine import cpu_flags, onednn_isa, vector_isa  # noqa: F401

EXPERIMENTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(EXPERIMENTS_DIR)
RESULTS = "results.json"
REPORT = "report.md"


def results_dir(name, out_dir=None):
  """`out_dir`, or experiments/results/<name>/ wherever the script is run from; created."""
  path = out_dir or os.path.join(EXPERIMENTS_DIR, "results", name)
  os.makedirs(path, exist_ok=True)
  return path


def machine():
  """The facts a reader needs to judge a timing."""
  import keras  # Imported here: only this function needs its version.
  flags = cpu_flags()
  return dict(
      cpu_model=cpu_model(),
      vector_isa=vector_isa(flags),
      onednn_isa=onednn_isa(flags, os.environ),
      cpus=os.cpu_count(),
      gpus=len(tf.config.list_physical_devices("GPU")),
      load_average=[round(x, 2) for x in os.getloadavg()],
      python=platform.python_version(),
      tensorflow=tf.__version__,
      keras=keras.__version__,
      platform=platform.platform())


def machine_line(machine):
  """"Machine: CPU, ISA, cores, load average before the run" for a timing report's text.

  Records written before the ISA was recorded print as they did.
  """
  isa = ""
  if "vector_isa" in machine:
    isa = f" ({machine['vector_isa']}; oneDNN {machine.get('onednn_isa', 'unknown')})"
  return (f"Machine: {machine.get('cpu_model', 'unknown CPU')}{isa}, {machine['cpus']} cores, "
          f"load average before the run {machine['load_average'][0]}")


def cpu_model():
  """The CPU's model name (timings differ 2-4x between machines), or the platform's word."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def median(values):
  return float(statistics.median(values))


def markdown_table(header, rows):
  """Rows of strings or numbers; floats are printed with 4 significant digits."""
  def cell(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
  return "\n".join(lines)


def met(value):
  return "met" if value else "NOT met"


def write_json(path, payload):
  """Writes `payload` atomically, adding the load average at the end of the run."""
  payload = dict(payload)
  payload["machine"] = dict(payload.get("machine") or machine(),
                            load_average_at_end=[round(x, 2) for x in os.getloadavg()])
  io_utils.write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
  return path


def read_json(path):
  with open(path) as f:
    return json.load(f)
