// The browser page's controls. The work happens in worker.js (a Web Worker); this module only talks to
// it, shows results and keeps the controls, the URL and the batch in step.
//
// For automation and shared links: ?image=URL (same origin) colorizes that photo on load, with
// &vividness=V&saturation=S; <img id="result"> gets data-state="done" when it shows the result, and
// data-state="error" (with the message in #error) when it failed.

const $ = (id) => document.getElementById(id);
const els = {
  file: $("file"), dropzone: $("dropzone"), status: $("status"), error: $("error"), result: $("result"),
  before: $("before"), panel: $("result-panel"), compare: $("compare"), frame: $("frame"), slider: $("slider"),
  vividness: $("vividness"), saturation: $("saturation"), download: $("download"), jpeg: $("download-jpeg"),
  batch: $("batch"), progress: $("progress"), progressLabel: $("progress-label"), cancel: $("cancel"),
  list: $("batch-list"), meta: $("result-meta"), runtime: $("runtime"),
};
const worker = new Worker("worker.js", {type: "module"});
const waiting = new Map(); // req -> {resolve, reject}
let nextReq = 1, nextId = 1, model = null, current = null, batch = null;
let composing = false, composeAgain = false;

worker.onmessage = ({data}) => {
  const pending = waiting.get(data.req);
  if (!pending) return;
  waiting.delete(data.req);
  if (data.type === "error" || data.type === "init-error") {
    const err = new Error(data.message);
    err.evicted = data.evicted;
    pending.reject(err);
  } else {
    pending.resolve(data);
  }
};
worker.onerror = (event) => fail(`The page's worker stopped: ${event.message || "unknown error"}`);

function call(msg) {
  const req = nextReq++;
  return new Promise((resolve, reject) => {
    waiting.set(req, {resolve, reject});
    worker.postMessage({...msg, req});
  });
}

function setStatus(text, busy = false) {
  els.status.textContent = text;
  els.status.classList.toggle("busy", busy);
}

function showError(text) {
  els.error.textContent = text;
  els.error.hidden = !text;
}

function fail(message) {
  showError(message);
  setStatus("");
  els.result.dataset.state = "error";
}

const settings = () => ({vividness: Number(els.vividness.value), saturation: Number(els.saturation.value)});

function outputName(name, ext) {
  return `${(name || "photo").replace(/\.[^.]*$/, "")}_color.${ext}`;
}

// -- showing a result ------------------------------------------------------------------------------

async function show(item) {
  current = item;
  els.panel.hidden = false;
  if (els.before.dataset.for !== String(item.id)) {
    els.before.src = item.beforeUrl;
    els.before.dataset.for = String(item.id);
  }
  els.result.src = item.url;
  await els.result.decode().catch(() => {});
  els.download.href = item.url;
  els.download.download = outputName(item.name, "png");
  els.meta.textContent = `${item.name}: ${item.width} x ${item.height} pixels` +
    (item.workingShape ? `, colour predicted at ${item.workingShape[1]} x ${item.workingShape[0]}` : "") +
    `; ${model.vividness_control ? `vividness ${settings().vividness}, ` : ""}saturation ${settings().saturation}` +
    (item.ms ? `; ${Math.round(item.ms)} ms` : "");
  for (const li of els.list.children) li.setAttribute("aria-current", String(li.dataset.id === String(item.id)));
  els.result.dataset.state = "done";
}

function setResult(item, reply) {
  if (item.url) URL.revokeObjectURL(item.url);
  item.url = URL.createObjectURL(reply.blob);
  Object.assign(item, {width: reply.width, height: reply.height, ms: reply.ms});
  if (reply.workingShape) item.workingShape = reply.workingShape;
}

async function colorizeItem(item) {
  els.result.dataset.state = "working";
  const reply = await call({type: "colorize", id: item.id, file: item.file, ...settings()});
  setResult(item, reply);
  return item;
}

// -- sliders: re-decode the shown photo, without running the network ---------------------------------

async function recompose() {
  if (!current || !current.url) return;
  if (composing) {
    composeAgain = true;
    return;
  }
  composing = true;
  const item = current;
  try {
    els.result.dataset.state = "working";
    let reply;
    try {
      reply = await call({type: "compose", id: item.id, ...settings()});
    } catch (err) {
      if (!err.evicted) throw err;
      reply = await call({type: "colorize", id: item.id, file: item.file, ...settings()});
    }
    setResult(item, reply);
    if (current === item) await show(item);
  } catch (err) {
    fail(err.message);
  } finally {
    composing = false;
    if (composeAgain) {
      composeAgain = false;
      recompose();
    }
  }
}

function syncSlider(input, output) {
  $(output).textContent = Number(input.value).toFixed(2);
}

function updateUrl() {
  const url = new URL(location.href);
  if (model.vividness_control) url.searchParams.set("vividness", els.vividness.value);
  url.searchParams.set("saturation", els.saturation.value);
  history.replaceState(null, "", url);
}

for (const [input, output] of [[els.vividness, "vividness-value"], [els.saturation, "saturation-value"]]) {
  input.addEventListener("input", () => {
    syncSlider(input, output);
    updateUrl();
    recompose();
  });
}

function setSplit(v) {
  els.slider.value = String(v);
  els.compare.style.setProperty("--split", `${v}%`);
  els.slider.setAttribute("aria-valuetext", `${v}% before, ${100 - v}% after`);
}
els.slider.addEventListener("input", () => setSplit(Number(els.slider.value)));
function splitFromPointer(event) {
  const box = els.frame.getBoundingClientRect();
  setSplit(Math.round(Math.min(100, Math.max(0, (event.clientX - box.left) / box.width * 100))));
}
els.frame.addEventListener("pointerdown", (event) => {
  els.frame.setPointerCapture(event.pointerId);
  splitFromPointer(event);
});
els.frame.addEventListener("pointermove", (event) => {
  if (els.frame.hasPointerCapture(event.pointerId)) splitFromPointer(event);
});

els.jpeg.addEventListener("click", async () => {
  if (!current) return;
  try {
    const reply = await call({type: "export", id: current.id, mime: "image/jpeg", quality: 0.92});
    const link = document.createElement("a");
    link.href = URL.createObjectURL(reply.blob);
    link.download = outputName(current.name, "jpg");
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) {
    showError(`${current.name}: ${err.message}; colorize it again to download it as JPEG`);
  }
});

// -- batches ---------------------------------------------------------------------------------------

function listItem(item) {
  const li = document.createElement("li");
  li.dataset.id = String(item.id);
  li.textContent = `${item.name}: waiting`;
  els.list.append(li);
  return li;
}

function markItem(item, text, failed = false) {
  item.li.textContent = `${item.name}: ${text} `;
  item.li.classList.toggle("failed", failed);
  if (!failed && item.url) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show";
    button.setAttribute("aria-label", `Show ${item.name}`);
    button.addEventListener("click", () => recomposeShown(item));
    item.li.append(button);
  }
}

async function recomposeShown(item) {
  await show(item);
  recompose();
}

async function runBatch(files) {
  if (batch) {
    showError("A batch is running: wait for it or cancel it first.");
    return;
  }
  showError("");
  for (const item of els.list.querySelectorAll("li")) item.remove();
  batch = {cancelled: false, items: []};
  els.batch.hidden = files.length < 2;
  els.progress.max = files.length;
  els.progress.value = 0;
  els.cancel.disabled = false;
  let done = 0, failed = 0;
  for (const [i, file] of files.entries()) {
    if (batch.cancelled) break;
    const item = {id: nextId++, file, name: file.name || "photo", beforeUrl: URL.createObjectURL(file)};
    item.li = listItem(item);
    batch.items.push(item);
    setStatus(files.length > 1 ? `Colorizing ${i + 1} of ${files.length}: ${item.name}…` : `Colorizing ${item.name}…`,
              true);
    els.progressLabel.textContent = `${i} of ${files.length} done`;
    try {
      await colorizeItem(item);
      await show(item);
      markItem(item, "done");
      done++;
    } catch (err) {
      failed++;
      markItem(item, err.message.replace(`${item.name}: `, ""), true);
      showError(err.message);
      els.result.dataset.state = "error";
    }
    els.progress.value = i + 1;
  }
  const total = files.length, cancelled = batch.cancelled;
  batch = null;
  els.cancel.disabled = true;
  els.progressLabel.textContent = `${done + failed} of ${total} done`;
  const counts = `${done} colorized${failed ? `, ${failed} failed` : ""}`;
  setStatus(cancelled ? `Cancelled: ${counts}; the other ${total - done - failed} were not started.`
                      : total > 1 ? `Done: ${counts}.` : done ? `Done: ${files[0].name} colorized.` : "");
}

els.cancel.addEventListener("click", () => {
  if (!batch) return;
  batch.cancelled = true;
  els.cancel.disabled = true;
  setStatus("Cancelling: the photo being colorized finishes, the rest are not started…", true);
});

els.file.addEventListener("change", () => {
  if (els.file.files.length) runBatch([...els.file.files]);
  els.file.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  els.dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    els.dropzone.classList.add("dragover");
  });
}
els.dropzone.addEventListener("dragleave", () => els.dropzone.classList.remove("dragover"));
els.dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  els.dropzone.classList.remove("dragover");
  if (!model) return;
  const files = [...event.dataTransfer.files];
  if (files.length) runBatch(files);
});

// -- start-up: the model, then ?image= ---------------------------------------------------------------

function numberParam(params, name, low, high, fallback) {
  if (!params.has(name)) return fallback;
  const value = Number(params.get(name));
  if (params.get(name) === "" || !Number.isFinite(value) || value < low || value > high) {
    throw new Error(`${name} in the address must be a number from ${low} to ${high}; got ${JSON.stringify(params.get(name))}`);
  }
  return value;
}

async function imageFromUrl(param) {
  const url = new URL(param, location.href);
  if (url.origin !== location.origin) {
    throw new Error(`image=${param}: only photos from this site (${location.origin}) can be opened from the address`);
  }
  const response = await fetch(url).catch(() => null);
  if (!response || !response.ok) {
    throw new Error(`image=${param}: cannot be fetched (${response ? `HTTP ${response.status}` : "network error"})`);
  }
  const name = decodeURIComponent(url.pathname.split("/").pop() || "photo");
  return new File([await response.blob()], name, {type: response.headers.get("content-type") || ""});
}

async function start() {
  const params = new URLSearchParams(location.search);
  let ready;
  try {
    ready = await call({type: "init"});
  } catch (err) {
    fail(`The model could not be loaded: ${err.message}`);
    return;
  }
  model = ready.model;
  $("vividness-field").hidden = !model.vividness_control;
  $("limit-mp").textContent = String(Math.round(ready.maxPixels / 1e6));
  els.saturation.max = String(ready.maxSaturation);
  els.runtime.textContent = `Model ${model.name} (${model.quantize === "none" ? "fp32" : model.quantize} weights) on ` +
    (ready.backend === "webgpu" ? "WebGPU" : `WASM, ${ready.threads} thread${ready.threads === 1 ? "" : "s"}` +
     (ready.isolated ? "" : " (serve the page with cross-origin isolation headers for more)")) +
    ", with onnxruntime-web served from this site.";
  els.file.disabled = false;
  setStatus("Ready: choose photos.");
  try {
    els.vividness.value = String(numberParam(params, "vividness", 0, 1, model.default_vividness ?? 0.5));
    els.saturation.value = String(numberParam(params, "saturation", 0, Number(els.saturation.max),
                                              model.default_saturation));
    syncSlider(els.vividness, "vividness-value");
    syncSlider(els.saturation, "saturation-value");
    if (params.has("image")) await runBatch([await imageFromUrl(params.get("image"))]);
  } catch (err) {
    fail(err.message);
  }
}

start();
