"""Where a SavedModel's time goes: milliseconds per op type, from TensorFlow's step stats.

TensorFlow 2's profiler writes traces that need TensorBoard's plugin to read; a graph-mode
session on the same SavedModel reports each op's run time in its RunMetadata instead, with
no extra package. The graph is the one the serving signature runs (grappler's rewrites
included: a fused convolution shows as _MklNativeFusedConv2D on oneDNN builds).
"""

import collections
import time
from typing import Dict

import numpy as np


def saved_model_op_times(path: str, image: np.ndarray, rounds: int = 3,
                         threads: int = 0) -> Dict[str, object]:
  """Profiles serving_default of the SavedModel at `path` on `image` (uint8 [h, w, 3]).

  Returns {"ops": {op type: ms per call}, "op_runs": ops run per call, "traced_ms": the
  traced calls' median wall time, "plain_ms": untraced median} (after one warm-up call).
  A multi-style model gets style weights of its first style.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  graph = tf.Graph()
  config = v1.ConfigProto(intra_op_parallelism_threads=threads,
                          inter_op_parallelism_threads=threads)
  with graph.as_default(), v1.Session(graph=graph, config=config) as session:
    signature = v1.saved_model.load(session, ["serve"], path).signature_def["serving_default"]
    feed = {signature.inputs["images"].name: image[None]}
    if "style" in signature.inputs:
      size = signature.inputs["style"].tensor_shape.dim[0].size
      feed[signature.inputs["style"].name] = np.eye(size, dtype=np.float32)[0]
    fetch = signature.outputs["stylized"].name
    session.run(fetch, feed)

    def timed(**kwargs):
      start = time.perf_counter()
      session.run(fetch, feed, **kwargs)
      return time.perf_counter() - start

    plain = [timed() for _ in range(rounds)]
    options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
    per_op, runs, traced = collections.Counter(), 0, []
    for _ in range(rounds):
      metadata = v1.RunMetadata()
      traced.append(timed(options=options, run_metadata=metadata))
      for device in metadata.step_stats.dev_stats:
        for node in device.node_stats:
          if not node.timeline_label:  # the executor's own bookkeeping entries
            continue
          # timeline_label: "name = OpType(inputs...)"
          kind = node.timeline_label.split(" = ", 1)[-1].split("(", 1)[0]
          # from the node's scheduling to its end: its kernel's time plus the wait for a
          # thread (op_end_rel_micros; whole microseconds)
          per_op[kind] += node.op_end_rel_micros
          runs += 1
  return {"ops": {k: v / 1000.0 / rounds for k, v in per_op.most_common()},
          "op_runs": runs / rounds, "traced_ms": 1000 * float(np.median(traced)),
          "plain_ms": 1000 * float(np.median(plain))}
