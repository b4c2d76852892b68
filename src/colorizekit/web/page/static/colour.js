// colorizekit's colour pipeline in JavaScript, as src/colorizekit/colorize.py, color.py and modes.py do it
// in Python. Every constant comes from model.json, written from the Python modules that own them.
//
// Planes are Float32Arrays in row-major order; a (C, H, W) map stores channel c at c * H * W.

/** Python's round(): to the nearest integer, halves to the even one. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** colorize.working_shape: [h, w] with the short side about `size`, multiples of `multiple`. */
export function workingShape(height, width, size, multiple) {
  const scale = size / Math.min(height, width);
  return [Math.max(multiple, roundHalfEven(height * scale / multiple) * multiple),
          Math.max(multiple, roundHalfEven(width * scale / multiple) * multiple)];
}

function invert3(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [[(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
          [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
          [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det]];
}

/** The colour maths of model.json `c` (its `srgb`, `lab`, `input`, `ab_norm` and `bins`). */
export function colourMaths(c) {
  const s = c.srgb, lab = c.lab;
  const toLinear = (x) => (x > s.linear_threshold ? ((x + s.offset) / (1 + s.offset)) ** s.gamma
                                                  : x / s.linear_slope);
  const toSrgb = (x) => (x > s.encoded_threshold ? (1 + s.offset) * x ** (1 / s.gamma) - s.offset
                                                : x * s.linear_slope);
  const tEps = lab.epsilon ** (1 / 3);
  const f = (t) => (t > lab.epsilon ? Math.cbrt(t) : lab.kappa_slope * t + lab.offset);
  const fInv = (t) => (t > tEps ? t * t * t : (t - lab.offset) / lab.kappa_slope);
  const [wx, wy, wz] = lab.white;
  const yRow = lab.xyz_from_rgb[1];
  const rgbFromXyz = invert3(lab.xyz_from_rgb);
  const linear8 = Float64Array.from({length: 256}, (_, v) => toLinear(v / 255));

  /** RGBA bytes -> [gray, L]: the gray whose sRGB (g, g, g) has each pixel's CIE L (imageio's gray of a
   * colour photo), and that L, both Float32Arrays of the pixel count. */
  function grayAndL(rgba) {
    const n = rgba.length / 4, gray = new Float32Array(n), lum = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const y = (yRow[0] * linear8[rgba[4 * i]] + yRow[1] * linear8[rgba[4 * i + 1]]
                 + yRow[2] * linear8[rgba[4 * i + 2]]) / wy;
      lum[i] = 116 * f(y) - 16;
      gray[i] = Math.min(1, Math.max(0, toSrgb(fInv((lum[i] + 16) / 116))));
    }
    return [gray, lum];
  }

  /** The model's input from a gray plane (colour mode's input_from_gray: (X - center) / scale). */
  function modelInput(gray) {
    const {input_from: from, center, scale} = c.input;
    const out = new Float32Array(gray.length);
    for (let i = 0; i < gray.length; i++) {
      const x = from === "L" ? 116 * f(toLinear(gray[i])) - 16 : gray[i];
      out[i] = (x - center) / scale;
    }
    return out;
  }

  /** Lab planes (L, a, b) -> RGBA bytes into `rgba`, clipped to sRGB as color.lab_to_rgb does. */
  function labToRgba(lum, a, b, rgba) {
    for (let i = 0; i < lum.length; i++) {
      const fy = (lum[i] + 16) / 116;
      const x = fInv(fy + a[i] / 500) * wx, y = fInv(fy) * wy, z = fInv(Math.max(0, fy - b[i] / 200)) * wz;
      for (let k = 0; k < 3; k++) {
        const r = rgbFromXyz[k];
        const v = toSrgb(r[0] * x + r[1] * y + r[2] * z);
        rgba[4 * i + k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      rgba[4 * i + 3] = 255;
    }
  }

  /** RGB planes in [0, 1] (3, n) -> ab planes (2, n), for models that predict RGB. */
  function rgbToAb(rgb, n) {
    const ab = new Float32Array(2 * n), m = lab.xyz_from_rgb;
    for (let i = 0; i < n; i++) {
      const lin = [0, 1, 2].map((k) => toLinear(Math.min(1, Math.max(0, rgb[k * n + i]))));
      const [fx, fy, fz] = [0, 1, 2].map((k) => f((m[k][0] * lin[0] + m[k][1] * lin[1] + m[k][2] * lin[2])
                                                 / lab.white[k]));
      ab[i] = 500 * (fx - fy);
      ab[n + i] = 200 * (fy - fz);
    }
    return ab;
  }

  return {grayAndL, modelInput, labToRgba, rgbToAb};
}

/** Per pixel of bin logits (Q, n), under p = softmax(logits): the mean ab E_p[bin] (2, n) and the
 * expected chroma E_p[|bin|] (n), which do not depend on the vividness. */
export function binsMoments(logits, centres, n) {
  const q = centres.length, mean = new Float32Array(2 * n), chroma = new Float32Array(n);
  const size = centres.map(([a, b]) => Math.hypot(a, b)), e = new Float64Array(q);
  for (let i = 0; i < n; i++) {
    let top = -Infinity, sum = 0, ma = 0, mb = 0, mc = 0;
    for (let k = 0; k < q; k++) top = Math.max(top, logits[k * n + i]);
    for (let k = 0; k < q; k++) {
      e[k] = Math.exp(logits[k * n + i] - top);
      sum += e[k];
    }
    for (let k = 0; k < q; k++) {
      ma += e[k] * centres[k][0];
      mb += e[k] * centres[k][1];
      mc += e[k] * size[k];
    }
    mean[i] = ma / sum;
    mean[n + i] = mb / sum;
    chroma[i] = mc / sum;
  }
  return {mean, chroma, size};
}

/** bins.decode_bins at vividness V, times the saturation S: (2, n) ab = S * m * g, where m = E_p[bin],
 * g = E_pV[|bin|] / E_p[|bin|] clamped to [1, maxGain] and pV = softmax(logits + V * tilt * |bin|). */
export function decodeBins(logits, moments, n, vividness, saturation, tilt, maxGain) {
  const {mean, chroma, size} = moments, q = size.length, ab = new Float32Array(2 * n);
  const bias = size.map((c) => vividness * tilt * c), e = new Float64Array(q);
  for (let i = 0; i < n; i++) {
    let gain = 1;
    if (vividness > 0) {
      let top = -Infinity, sum = 0, tc = 0;
      for (let k = 0; k < q; k++) top = Math.max(top, logits[k * n + i] + bias[k]);
      for (let k = 0; k < q; k++) {
        e[k] = Math.exp(logits[k * n + i] + bias[k] - top);
        sum += e[k];
        tc += e[k] * size[k];
      }
      gain = Math.min(Math.max(tc / sum / Math.max(chroma[i], 1e-6), 1), maxGain);
    }
    ab[i] = mean[i] * gain * saturation;
    ab[n + i] = mean[n + i] * gain * saturation;
  }
  return ab;
}

/** torch's F.interpolate(mode="bilinear", align_corners=False, antialias=True) weights along one axis
 * (PIL's triangle filter): for each output index, [first source index, weights]. */
function aaWeights(inSize, outSize) {
  const scale = inSize / outSize, support = Math.max(scale, 1), inv = scale >= 1 ? 1 / scale : 1;
  const taps = [];
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const w = [];
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const v = Math.max(0, 1 - Math.abs((j - centre + 0.5) * inv));
      w.push(v);
      total += v;
    }
    taps.push([lo, w.map((v) => (total > 0 ? v / total : 0))]);
  }
  return taps;
}

/** Bilinear weights as F.interpolate(mode="bilinear", align_corners=False) without antialiasing. */
function bilinearWeights(inSize, outSize) {
  const scale = inSize / outSize, taps = [];
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1), i1 = Math.min(i0 + 1, inSize - 1), t = src - i0;
    taps.push(i1 === i0 ? [i0, [1]] : [i0, [1 - t, t]]);
  }
  return taps;
}

function separable(plane, h, w, outH, outW, rowTaps, colTaps) {
  const mid = new Float32Array(h * outW), out = new Float32Array(outH * outW);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      const [lo, ws] = colTaps[x];
      let v = 0;
      for (let k = 0; k < ws.length; k++) v += ws[k] * plane[y * w + lo + k];
      mid[y * outW + x] = v;
    }
  }
  for (let y = 0; y < outH; y++) {
    const [lo, ws] = rowTaps[y];
    for (let x = 0; x < outW; x++) {
      let v = 0;
      for (let k = 0; k < ws.length; k++) v += ws[k] * mid[(lo + k) * outW + x];
      out[y * outW + x] = v;
    }
  }
  return out;
}

/** colorize._resize on one (h, w) plane: bilinear, antialiased when either side shrinks. */
export function resize(plane, h, w, outH, outW) {
  if (h === outH && w === outW) return plane;
  const taps = outH < h || outW < w ? aaWeights : bilinearWeights;
  return separable(plane, h, w, outH, outW, taps(h, outH), taps(w, outW));
}

/** Plain bilinear upsampling of one plane (align_corners=False), as colorize.join_luminance does. */
export function upsample(plane, h, w, outH, outW) {
  if (h === outH && w === outW) return plane;
  return separable(plane, h, w, outH, outW, bilinearWeights(h, outH), bilinearWeights(w, outW));
}
