// The page's Web Worker: reads photos, runs the model with onnxruntime-web (WebGPU when the browser has
// it and JSPI, else WASM with threads when the page is cross-origin isolated) and composes the colour
// photo, so the page itself never waits on the work.
//
// Every message carries `req`, which its reply carries back.
// Messages in:  {type: "init"}
//               {type: "colorize", id, file, vividness, saturation}
//               {type: "compose", id, vividness, saturation}   (re-decodes, the network is not run again)
//               {type: "export", id, mime, quality}            (the last composition as PNG or JPEG)
//               {type: "forget", id}
// Messages out: {type: "ready", backend, threads, isolated, model, maxPixels, maxSaturation} | {type: "init-error", message}
//               {type: "done", id, blob, width, height, ms, workingShape}
//               {type: "exported", id, blob} | {type: "error", id, message, evicted}

import {binsMoments, colourMaths, decodeBins, resize, upsample, workingShape} from "./colour.js";

const KEEP = 3; // photos whose model output stays in memory, so that their sliders re-decode at once
let ort, session, config, maths;
const photos = new Map(); // id -> {width, height, lum, out, outH, outW, moments, canvas}

async function inflate(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

/** onnxruntime-web's `kind` runtime ("wasm" or "webgpu", see model.json's `runtime`) with its WebAssembly. */
async function loadRuntime(kind) {
  const files = config.runtime.runtimes[kind], vendor = new URL("vendor/onnxruntime-web/", self.location.href).href;
  const runtime = await import(vendor + files.runtime);
  runtime.env.wasm.wasmPaths = {mjs: vendor + files.glue};
  runtime.env.wasm.wasmBinary = await inflate(vendor + files.wasm_gz);
  runtime.env.wasm.numThreads = self.crossOriginIsolated === true
    ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  return runtime;
}

/** A WebGPU session when the browser has an adapter and JSPI (the WebGPU build needs it), else null. */
async function webgpuSession(model) {
  if (!navigator.gpu || typeof WebAssembly.Suspending !== "function") return null;
  if (!await navigator.gpu.requestAdapter().catch(() => null)) return null;
  try {
    ort = await loadRuntime("webgpu");
    return await ort.InferenceSession.create(model, {executionProviders: ["webgpu"]});
  } catch (err) {
    console.warn(`WebGPU unusable, running on WASM: ${err && err.message}`);
    return null;
  }
}

async function init() {
  config = await (await fetchOk("model.json")).json();
  maths = colourMaths(config);
  const model = await (await fetchOk(config.model.file)).arrayBuffer();
  session = await webgpuSession(model);
  const backend = session ? "webgpu" : "wasm";
  if (!session) {
    ort = await loadRuntime("wasm");
    session = await ort.InferenceSession.create(model, {executionProviders: ["wasm"]});
  }
  return {backend, threads: backend === "wasm" ? ort.env.wasm.numThreads : null,
          isolated: self.crossOriginIsolated === true, model: config.model, maxPixels: config.max_pixels,
          maxSaturation: config.max_saturation};
}

// -- reading a photo -----------------------------------------------------------------------------

/** Width and height from a PNG, JPEG or WebP header (before decoding), or null. */
function headerSize(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 24 && v.getUint32(0) === 0x89504e47) return [v.getUint32(16), v.getUint32(20)];
  if (bytes.length >= 30 && v.getUint32(0) === 0x52494646 && v.getUint32(8) === 0x57454250) {
    const chunk = String.fromCharCode(...bytes.subarray(12, 16));
    if (chunk === "VP8X") return [1 + (v.getUint32(24, true) & 0xffffff), 1 + (v.getUint32(27, true) & 0xffffff)];
    if (chunk === "VP8L") {
      const bits = v.getUint32(21, true);
      return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)];
    }
    if (chunk === "VP8 ") return [v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff];
  }
  if (bytes.length >= 4 && v.getUint16(0) === 0xffd8) {
    for (let i = 2; i + 9 < bytes.length;) {
      if (bytes[i] !== 0xff) return null;
      const marker = bytes[i + 1];
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return [v.getUint16(i + 7), v.getUint16(i + 5)];
      }
      i += 2 + v.getUint16(i + 2);
    }
  }
  return null;
}

function megapixels(w, h) {
  return `${(w * h / 1e6).toFixed(1)} MP`;
}

async function readPixels(file) {
  const name = file.name || "the photo";
  const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  const size = headerSize(head);
  const limit = config.max_pixels;
  if (size && size[0] * size[1] > limit) {
    throw new Error(`${name}: ${size[0]} x ${size[1]} pixels (${megapixels(...size)}) is over this page's `
                    + `${megapixels(limit, 1)} limit; make it smaller first`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, {imageOrientation: "from-image", colorSpaceConversion: "none",
                                            premultiplyAlpha: "none"});
  } catch (err) {
    throw new Error(`${name}: not an image this browser can read (expected JPEG, PNG or WebP)`);
  }
  const {width, height} = bitmap;
  if (width * height > limit) {
    bitmap.close();
    throw new Error(`${name}: ${width} x ${height} pixels (${megapixels(width, height)}) is over this page's `
                    + `${megapixels(limit, 1)} limit; make it smaller first`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.fillStyle = "#fff"; // transparent parts over white, as colorizekit's Python reader does
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return {width, height, rgba: ctx.getImageData(0, 0, width, height).data, canvas};
}

// -- the model and the decoding --------------------------------------------------------------------

async function predict(gray, width, height) {
  const m = config.model;
  const [h, w] = workingShape(height, width, m.default_size, m.size_multiple);
  const input = maths.modelInput(resize(gray, height, width, h, w));
  const feeds = {[session.inputNames[0]]: new ort.Tensor("float32", input, [1, 1, h, w])};
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  const [, channels, outH, outW] = out.dims;
  const data = await out.getData(true);
  if (out.dispose) out.dispose();
  return {out: data, channels, outH, outW, workingShape: [h, w]};
}

/** The predicted ab (2, outH * outW) at vividness V and saturation S, as the colour mode decodes it. */
function predictedAb(photo, vividness, saturation) {
  const n = photo.outH * photo.outW, mode = config.model.color_mode;
  if (mode === "ab-bins") {
    const {centres, chroma_tilt: tilt, max_chroma_gain: maxGain} = config.bins;
    photo.moments ??= binsMoments(photo.out, centres, n);
    return decodeBins(photo.out, photo.moments, n, vividness, saturation, tilt, maxGain);
  }
  const ab = mode === "lab" ? photo.out.map((v) => v * config.ab_norm) : maths.rgbToAb(photo.out, n);
  return ab.map((v) => v * saturation);
}

/** colorize.join_luminance: the ab upsampled to full size and joined with the photo's own L. */
function compose(photo, vividness, saturation) {
  const {width, height, outH, outW} = photo, n = outH * outW;
  const ab = predictedAb(photo, vividness, saturation);
  const h = Math.min(outH, height), w = Math.min(outW, width);
  const planes = [0, 1].map((c) => {
    const small = resize(ab.subarray(c * n, (c + 1) * n), outH, outW, h, w);
    return upsample(small, h, w, height, width);
  });
  const image = new ImageData(width, height);
  maths.labToRgba(photo.lum, planes[0], planes[1], image.data);
  photo.canvas.getContext("2d").putImageData(image, 0, 0);
  return photo.canvas.convertToBlob({type: "image/png"});
}

function remember(id, photo) {
  photos.set(id, photo);
  while (photos.size > KEEP) photos.delete(photos.keys().next().value);
}

async function colorize({id, file, vividness, saturation}) {
  const start = performance.now();
  const {width, height, rgba, canvas} = await readPixels(file);
  const [gray, lum] = maths.grayAndL(rgba);
  const predicted = await predict(gray, width, height);
  const photo = {width, height, lum, canvas, moments: null, ...predicted};
  remember(id, photo);
  const blob = await compose(photo, vividness, saturation);
  return {blob, width, height, ms: performance.now() - start, workingShape: predicted.workingShape};
}

function photoOf(id) {
  const photo = photos.get(id);
  if (!photo) {
    const err = new Error("this photo's model output is no longer in memory");
    err.evicted = true;
    throw err;
  }
  return photo;
}

const handlers = {
  init: async () => ({type: "ready", ...(await init())}),
  colorize: async (msg) => ({type: "done", id: msg.id, ...(await colorize(msg))}),
  compose: async (msg) => {
    const start = performance.now(), photo = photoOf(msg.id);
    const blob = await compose(photo, msg.vividness, msg.saturation);
    return {type: "done", id: msg.id, blob, width: photo.width, height: photo.height,
            ms: performance.now() - start};
  },
  export: async (msg) => ({type: "exported", id: msg.id, mime: msg.mime,
                           blob: await photoOf(msg.id).canvas.convertToBlob({type: msg.mime, quality: msg.quality})}),
  forget: async (msg) => {
    photos.delete(msg.id);
    return {type: "forgotten", id: msg.id};
  },
};

// One message at a time, in order: the page sends the next when it wants it.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const msg = event.data;
  queue = queue.then(async () => {
    try {
      const reply = await handlers[msg.type](msg);
      if (reply) self.postMessage({...reply, req: msg.req});
    } catch (err) {
      const message = err && err.message ? err.message : String(err);
      self.postMessage(msg.type === "init" ? {type: "init-error", message, req: msg.req}
                                           : {type: "error", id: msg.id, message, evicted: !!err.evicted, req: msg.req});
    }
  });
};
