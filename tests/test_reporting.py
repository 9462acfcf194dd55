"""The machine record's vector ISA, from /proc/cpuinfo flags, and its line in reports."""

from experiments.lib import reporting

AVX2 = frozenset("fpu sse4_1 avx avx2 fma".split())
AVX512 = AVX2 | frozenset("avx512f avx512bw avx512vl avx512dq".split())


def test_vector_isa_names_the_widest_vector_unit():
  assert reporting.vector_isa(AVX2) == "AVX2"
  assert reporting.vector_isa(AVX512) == "AVX-512"
  assert reporting.vector_isa(AVX512 | {"avx512_vnni"}) == "AVX-512 with VNNI"
  assert reporting.vector_isa(AVX512 | {"avx512_bf16", "avx512_vnni"}) == (
      "AVX-512 with BF16/VNNI")
  assert reporting.vector_isa(frozenset()) == "unknown"


def test_onednn_isa_is_the_best_the_cpu_has_unless_capped_or_off():
  assert reporting.onednn_isa(AVX2, {}) == "avx2"
  assert reporting.onednn_isa(AVX512 | {"avx512_vnni"}, {}) == "avx512_core_vnni"
  assert reporting.onednn_isa(AVX512 | {"avx512_bf16", "avx512_vnni"}, {}) == (
      "avx512_core_bf16")
  assert reporting.onednn_isa(AVX512, {"ONEDNN_MAX_CPU_ISA": "AVX2"}) == (
      "avx2 (capped by ONEDNN_MAX_CPU_ISA)")
  assert reporting.onednn_isa(AVX2, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}) == "avx2"
  assert reporting.onednn_isa(AVX512, {"TF_ENABLE_ONEDNN_OPTS": "0"}).startswith("off")
  assert reporting.onednn_isa(frozenset(), {}) == "unknown"


def test_cpu_flags_reads_the_flags_line(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("model name\t: Some CPU\nflags\t\t: fpu avx2 avx512f\n")
  assert reporting.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512f"}
  assert reporting.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_machine_line_names_the_isa_and_reads_old_records_as_before():
  old = dict(cpu_model="AMD EPYC", cpus=2, load_average=[1.5, 1.0, 1.0])
  assert reporting.machine_line(old) == (
      "Machine: AMD EPYC, 2 cores, load average before the run 1.5")
  new = dict(old, vector_isa="AVX2", onednn_isa="avx2")
  assert reporting.machine_line(new) == (
      "Machine: AMD EPYC (AVX2; oneDNN avx2), 2 cores, load average before the run 1.5")
  record = reporting.machine()
  assert {"vector_isa", "onednn_isa"} <= record.keys()
