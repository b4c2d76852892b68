// colorizekit serve: choose or drop a photo, colorize it on the server, compare and download.
// Plain JavaScript, no build step, nothing loaded from outside this server.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("colorize-form");
  const fileInput = $("file");
  const dropzone = $("dropzone");
  const modelSelect = $("model");
  const modelHelp = $("model-help");
  const submitButton = $("submit");
  const statusEl = $("status");
  const errorEl = $("error");
  const resultSection = $("result");
  const compare = $("compare");
  const frame = compare.querySelector(".compare-frame");
  const beforeImg = $("before-img");
  const resultImg = $("result-img");
  const slider = $("slider");
  const sideBySide = $("side-by-side");
  const download = $("download");
  const openFull = $("open-full");
  const meta = $("result-meta");
  const vividnessField = $("vividness-field");
  const vividnessInput = $("vividness");
  const vividnessValue = $("vividness-value");
  const saturationInput = $("saturation");
  const saturationValue = $("saturation-value");

  let settings = { max_upload_bytes: 25e6 };
  let models = [];
  let file = null;
  let busy = false;
  let again = false;  // colorize once more when the current request ends (the vividness changed meanwhile)
  let rangeTimer = 0;
  let objectUrls = [];

  function megabytes(n) {
    const mb = n / 1e6;
    return mb >= 10 ? `${Math.round(mb)} MB` : `${mb.toFixed(1).replace(/\.0$/, "")} MB`;
  }

  function fileSize(n) {
    return n < 1e6 ? `${Math.max(1, Math.round(n / 1e3))} kB` : megabytes(n);
  }

  function setStatus(text, isBusy = false) {
    statusEl.textContent = text;
    statusEl.classList.toggle("busy", isBusy);
  }

  function showError(text) {
    errorEl.textContent = text;
    errorEl.hidden = false;
  }

  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }

  function currentModel() {
    return models.find((m) => m.name === modelSelect.value);
  }

  function updateButton() {
    const model = currentModel();
    submitButton.disabled = busy || !file || !model || !model.weights;
  }

  function setVividness(value) {
    const v = Math.max(0, Math.min(1, Number(value)));
    vividnessInput.value = String(v);
    vividnessValue.textContent = v.toFixed(2);
    vividnessInput.setAttribute("aria-valuetext", `${v.toFixed(2)}, from 0 muted to 1 vivid`);
  }

  // The slider is shown only for models whose decoding has a vividness (a bins head), at the
  // weights' default.
  function showVividness() {
    const model = currentModel();
    const control = Boolean(model && model.vividness_control);
    vividnessField.hidden = !control;
    if (control && model.default_vividness !== null) setVividness(model.default_vividness);
  }

  function chosenVividness() {
    return vividnessField.hidden ? null : Number(vividnessInput.value).toFixed(2);
  }

  function setSaturation(value) {
    const v = Math.max(0, Math.min(Number(saturationInput.max), Number(value)));
    saturationInput.value = String(v);
    saturationValue.textContent = v.toFixed(2);
    saturationInput.setAttribute("aria-valuetext", `${v.toFixed(2)}, 0 gray, 1 as predicted`);
  }

  // Every model has a saturation; the slider starts at its weights' default.
  function showSaturation() {
    const model = currentModel();
    if (model) setSaturation(model.default_saturation);
  }

  function chosenSaturation() {
    return Number(saturationInput.value).toFixed(2);
  }

  // The server's one-line reason: JSON {"detail": "..."}, else the status line.
  async function errorText(response) {
    try {
      const data = await response.json();
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail)) return data.detail.map((d) => d.msg || String(d)).join("; ");
    } catch (_) { /* not JSON */ }
    return `the server answered ${response.status} ${response.statusText}`.trim();
  }

  function filenameFromDisposition(header) {
    if (!header) return null;
    const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
    if (star) {
      try { return decodeURIComponent(star[1].trim()); } catch (_) { /* fall through */ }
    }
    const plain = /filename\s*=\s*"([^"]*)"/i.exec(header) || /filename\s*=\s*([^;]+)/i.exec(header);
    return plain ? plain[1].trim() : null;
  }

  function fallbackName(name, type) {
    const stem = name.replace(/\.[^.]*$/, "") || "photo";
    const ext = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/tiff": "tif" }[type] || "png";
    return `${stem}_color.${ext}`;
  }

  function describeModel() {
    const model = currentModel();
    const missing = models.filter((m) => !m.weights).map((m) => `${m.reason}.`);
    const parts = [];
    if (model) parts.push(`${model.description} (colour mode ${model.color_mode}).`);
    if (missing.length) parts.push(`Unavailable: ${missing.join(" ")}`);
    modelHelp.textContent = parts.join(" ");
  }

  async function loadModels() {
    try {
      const response = await fetch("/api/models", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(await errorText(response));
      const data = await response.json();
      settings = data;
      models = data.models;
      $("limit-mb").textContent = megabytes(data.max_upload_bytes).replace(" MB", "");
      modelSelect.replaceChildren();
      for (const m of models) {
        const option = document.createElement("option");
        option.value = m.name;
        option.disabled = !m.weights;
        option.textContent = m.weights
          ? `${m.name}${m.default ? " (default)" : ""}`
          : `${m.name} (unavailable: no weights)`;
        option.title = m.weights ? m.description : m.reason;
        modelSelect.append(option);
      }
      const usable = models.filter((m) => m.weights);
      const preferred = usable.find((m) => m.default) || usable[0];
      if (preferred) {
        modelSelect.value = preferred.name;
        modelSelect.disabled = false;
      } else {
        modelSelect.disabled = true;
        showError("No model on this server has weights, so nothing can be colorized. " +
          "Start it with `colorizekit serve --weights FILE`.");
      }
      describeModel();
      showVividness();
      showSaturation();
    } catch (err) {
      showError(`Could not load the list of models: ${err.message}`);
    }
    updateButton();
    if (file && !submitButton.disabled) colorize();
  }

  function chooseFile(chosen) {
    if (!chosen) return;
    file = chosen;
    clearError();
    resultSection.hidden = true;  // the previous photo's result would be mistaken for this one's
    updateButton();
    if (!submitButton.disabled) colorize();
  }

  function forgetUrls() {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
  }

  function loadImage(img, url) {
    return new Promise((resolve) => {
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = url;
    });
  }

  function setSplit(value) {
    const v = Math.max(0, Math.min(100, Math.round(value)));
    slider.value = String(v);
    compare.style.setProperty("--split", `${v}%`);
    slider.setAttribute("aria-valuetext", `${v}% before, ${100 - v}% after`);
  }

  async function showResult(blob, name, model, vividness, saturation) {
    forgetUrls();
    const beforeUrl = URL.createObjectURL(file);
    const afterUrl = URL.createObjectURL(blob);
    objectUrls.push(beforeUrl, afterUrl);
    resultSection.hidden = false;
    const [afterOk, beforeOk] = await Promise.all([loadImage(resultImg, afterUrl), loadImage(beforeImg, beforeUrl)]);
    if (afterOk && !beforeOk) {
      // The browser cannot show the original (e.g. TIFF): show the result in gray as "before".
      beforeImg.style.filter = "grayscale(1)";
      await loadImage(beforeImg, afterUrl);
    } else {
      beforeImg.style.filter = "";
    }
    compare.hidden = !afterOk;
    download.href = afterUrl;
    download.download = name;
    download.textContent = `Download ${name}`;
    openFull.href = afterUrl;
    const size = afterOk ? `${resultImg.naturalWidth} × ${resultImg.naturalHeight} pixels, ` : "";
    meta.textContent = `${size}${fileSize(blob.size)}, model ${model}` +
      (vividness === null ? "" : `, vividness ${vividness}`) + `, saturation ${saturation}.` +
      (afterOk ? "" : " This browser cannot show this format; download it to view it.");
    setSplit(slider.value);
    setStatus(afterOk
      ? `Done: ${file.name} colorized at ${resultImg.naturalWidth} × ${resultImg.naturalHeight} pixels.`
      : `Done: ${file.name} colorized; download it to view it.`);
    resultSection.removeAttribute("aria-busy");
  }

  async function colorize() {
    if (!file) return;
    if (busy) {
      again = true;
      return;
    }
    again = false;
    const model = modelSelect.value;
    const vividness = chosenVividness();
    const saturation = chosenSaturation();
    clearError();
    if (file.size === 0) {
      showError(`${file.name}: empty file`);
      return;
    }
    if (file.size > settings.max_upload_bytes) {
      // The server would answer 413 with the same reason; saying it here avoids a pointless upload.
      showError(`${file.name}: file is ${megabytes(file.size)}, over the ${megabytes(settings.max_upload_bytes)} upload limit`);
      return;
    }
    busy = true;
    updateButton();
    resultSection.setAttribute("aria-busy", "true");
    setStatus(`Colorizing ${file.name} with ${model}…`, true);
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("model", model);
    if (vividness !== null) body.append("vividness", vividness);
    body.append("saturation", saturation);
    try {
      const response = await fetch("/api/colorize", { method: "POST", body });
      if (!response.ok) {
        showError(await errorText(response));
        setStatus(`${file.name} was not colorized.`);
        return;
      }
      const blob = await response.blob();
      const name = filenameFromDisposition(response.headers.get("Content-Disposition")) ||
        fallbackName(file.name, blob.type);
      await showResult(blob, name, model, vividness, saturation);
    } catch (err) {
      showError(`Could not reach the server: ${err.message}`);
      setStatus("");
    } finally {
      busy = false;
      resultSection.removeAttribute("aria-busy");
      updateButton();
    }
    if (again && !submitButton.disabled) colorize();
  }

  // Events

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    colorize();
  });

  fileInput.addEventListener("change", () => chooseFile(fileInput.files[0]));

  modelSelect.addEventListener("change", () => {
    describeModel();
    showVividness();
    showSaturation();
    updateButton();
  });

  // A new vividness or saturation colorizes the photo again, once the slider has rested for a moment
  // (each arrow key press is a change).
  for (const [input, set] of [[vividnessInput, setVividness], [saturationInput, setSaturation]]) {
    input.addEventListener("input", () => set(input.value));
    input.addEventListener("change", () => {
      clearTimeout(rangeTimer);
      rangeTimer = setTimeout(() => {
        if (file && (busy || !resultSection.hidden)) colorize();  // while busy: once the request in flight ends
      }, 350);
    });
  }

  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("dragover");
    });
  }
  dropzone.addEventListener("dragleave", (event) => {
    if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("dragover");
  });
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragover");
    const dropped = event.dataTransfer.files;
    if (!dropped || !dropped.length) return;
    try { fileInput.files = dropped; } catch (_) { /* read-only in old browsers */ }
    chooseFile(dropped[0]);
  });
  // A photo dropped beside the zone should not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  slider.addEventListener("input", () => setSplit(Number(slider.value)));

  function splitFromPointer(event) {
    const rect = frame.getBoundingClientRect();
    if (rect.width > 0) setSplit(((event.clientX - rect.left) / rect.width) * 100);
  }
  frame.addEventListener("pointerdown", (event) => {
    if (compare.classList.contains("side")) return;
    frame.setPointerCapture(event.pointerId);
    splitFromPointer(event);
  });
  frame.addEventListener("pointermove", (event) => {
    if (frame.hasPointerCapture(event.pointerId)) splitFromPointer(event);
  });

  sideBySide.addEventListener("change", () => compare.classList.toggle("side", sideBySide.checked));

  setSplit(50);
  loadModels();
})();
