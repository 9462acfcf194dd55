// Steadier live video in the page: each stylized camera frame is blended with the previous
// shown frame where the camera saw the same thing. A webcam's sensor noise changes every
// frame a little, and a style network turns those small changes into strokes that jump
// about; where the input did not change, the previous output is still right. Unlike
// `fastchi video --stabilize` there is no optical flow here (the light install has no
// OpenCV, and this runs in the browser): what moves is taken from the new frame, so the
// blend steadies a still background and leaves motion as the network drew it.
"use strict";

const STEADY_TOLERANCE = 0.04;  // input change (0-1, mean over RGB) at which trust is e^-1

// RGBA arrays (Uint8ClampedArray, width x height x 4) of the previous input and shown
// output and the new input and output -> the output to show. `strength` in [0, 1) is the
// weight of the previous output where the input is unchanged.
function steadyBlend(prevIn, prevOut, curIn, curOut, width, height, strength,
                     tolerance = STEADY_TOLERANCE) {
  const n = width * height;
  if (!(strength > 0) || !prevIn || !prevOut || prevIn.length !== 4 * n ||
      prevOut.length !== 4 * n || curIn.length !== 4 * n || curOut.length !== 4 * n) {
    return curOut;
  }
  // Per pixel trust of the previous output: exp(-(change / tolerance)^2).
  const trust = new Float32Array(n);
  const scale = 1 / (3 * 255 * tolerance);
  for (let i = 0; i < n; i++) {
    const p = 4 * i;
    const change = (Math.abs(curIn[p] - prevIn[p]) + Math.abs(curIn[p + 1] - prevIn[p + 1]) +
                    Math.abs(curIn[p + 2] - prevIn[p + 2])) * scale;
    trust[i] = Math.exp(-change * change);
  }
  // The least trust in each 3x3 neighbourhood: a moving edge's strokes reach a pixel
  // or two past where the input changed.
  const out = new Uint8ClampedArray(curOut.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let least = 1;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = Math.min(height - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(width - 1, Math.max(0, x + dx));
          least = Math.min(least, trust[yy * width + xx]);
        }
      }
      const w = strength * least, p = 4 * (y * width + x);
      for (let c = 0; c < 3; c++) out[p + c] = curOut[p + c] + w * (prevOut[p + c] - curOut[p + c]);
      out[p + 3] = 255;
    }
  }
  return out;
}

if (typeof module !== "undefined") module.exports = { steadyBlend, STEADY_TOLERANCE };
