"""What this machine offers the runtimes, told without starting them: the CPU's vector ISA,
the one TensorFlow's oneDNN kernels would dispatch to, and whether TensorFlow would find a
GPU.

Cheap (a read of /proc/cpuinfo and a look for the NVIDIA driver), so a tool can choose its
runtime (fastchi_tf.light.runtime) before paying for TensorFlow's start; the benchmarks'
machine records (experiments/lib/reporting.py) name the same ISA.
"""

import importlib.util
import os
from typing import Mapping, Optional


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset:
  """The CPU's feature flags (avx2, avx512f, ...), or an empty set where Linux does not say."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith("flags"):
          return frozenset(line.split(":", 1)[1].split())
  except OSError:
    pass
  return frozenset()


def vector_isa(flags: Optional[frozenset] = None) -> str:
  """The widest vector ISA in `flags` (default: this CPU's): "AVX-512 with BF16/VNNI",
  "AVX-512", "AVX2", ... or "unknown".

  TensorFlow's oneDNN kernels gain most from AVX-512, so timings on an AVX2 machine and on an
  AVX-512 one differ in their ratios, not only in their scale (issue 34).
  """
  flags = cpu_flags() if flags is None else flags
  if "avx512f" in flags:
    extras = [name for flag, name in (("avx512_bf16", "BF16"), ("avx512_vnni", "VNNI"),
                                      ("amx_tile", "AMX")) if flag in flags]
    return "AVX-512" + (" with " + "/".join(extras) if extras else "")
  for flag, name in (("avx2", "AVX2"), ("avx", "AVX"), ("sse4_1", "SSE4.1")):
    if flag in flags:
      return name
  return "unknown"


# oneDNN's names for its CPU ISAs, best first, with the /proc/cpuinfo flags each needs.
_ONEDNN_ISAS = (
    ("avx512_core_amx", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "amx_tile",
                         "amx_bf16", "amx_int8")),
    ("avx512_core_bf16", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16")),
    ("avx512_core_vnni", ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni")),
    ("avx512_core", ("avx512f", "avx512bw", "avx512vl", "avx512dq")),
    ("avx2_vnni", ("avx2", "avx_vnni")),
    ("avx2", ("avx2",)),
    ("avx", ("avx",)),
    ("sse41", ("sse4_1",)),
)


def onednn_isa(flags: Optional[frozenset] = None,
               environ: Optional[Mapping[str, str]] = None) -> str:
  """The ISA TensorFlow's oneDNN kernels would run (default: on this CPU, in this
  environment), without starting them.

  oneDNN dispatches to the best ISA the CPU has unless ONEDNN_MAX_CPU_ISA caps it, and
  TF_ENABLE_ONEDNN_OPTS=0 turns its kernels off. "unknown" where the flags do not say.
  """
  flags = cpu_flags() if flags is None else flags
  environ = os.environ if environ is None else environ
  if environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false"):
    return "off (TF_ENABLE_ONEDNN_OPTS=0)"
  best = next((name for name, needs in _ONEDNN_ISAS if all(f in flags for f in needs)),
              None)
  if best is None:
    return "unknown"
  cap = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "").lower()
  names = [name for name, _ in _ONEDNN_ISAS]
  if cap in names and names.index(cap) > names.index(best):
    return f"{cap} (capped by ONEDNN_MAX_CPU_ISA)"
  return best


def tensorflow_installed() -> bool:
  """Whether TensorFlow can be imported (the light install has none); not imported here."""
  return importlib.util.find_spec("tensorflow") is not None


NVIDIA_GPUS = "/proc/driver/nvidia/gpus"  # one folder per GPU the NVIDIA driver sees


def gpu_visible(environ: Optional[Mapping[str, str]] = None,
                driver_folder: str = NVIDIA_GPUS) -> bool:
  """Whether TensorFlow would likely find a GPU: TensorFlow is installed, the NVIDIA driver
  lists one, and CUDA_VISIBLE_DEVICES does not hide them all. A guess (TensorFlow built
  without CUDA finds none), made without TensorFlow's start of 5-8 s."""
  environ = os.environ if environ is None else environ
  hidden = environ.get("CUDA_VISIBLE_DEVICES")
  if hidden is not None and hidden.strip() in ("", "-1"):
    return False
  try:
    listed = os.listdir(driver_folder)
  except OSError:
    return False
  return bool(listed) and tensorflow_installed()
