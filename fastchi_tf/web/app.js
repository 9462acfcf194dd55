// fastchi serve's page: photo mode (one request per photo, style or colour change; the
// strength slider blends in the browser) and live mode (camera frames, one request in
// flight, so a slow machine drops frames instead of queueing them). No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  photo: $("photo"), drop: $("drop"), thumbs: $("thumbs"), style: $("style"),
  style2: $("style2"), mix: $("mix"), mixValue: $("mix_value"), strength: $("strength"),
  strengthValue: $("strength_value"), preserve: $("preserve_color"), download: $("download"),
  live: $("live"), steady: $("steady"), fps: $("fps"), original: $("original"), result: $("result"),
  placeholder: $("placeholder"), message: $("message"), status: $("status"),
  camera: $("camera"), stack: $("stack"),
};
const FRAME_WIDTH = 320;  // live frames: 320x240 for a 4:3 camera, JPEG
const FRAME_QUALITY = 0.8;
const STEADY_STRENGTH = 0.7;  // steady.js: the previous frame's weight where nothing moved

const state = {
  file: null, originalUrl: null, stylizedUrl: null, downloadUrl: null, request: null,
  stream: null, running: false, frames: 0, times: [], rtts: [], timer: null,
  steadyIn: null, steadyOut: null,  // the last live input and shown output (RGBA pixels)
};

function say(text, error = false) {
  ui.message.textContent = text;
  ui.message.classList.toggle("error", error);
}

async function errorOf(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

// The --style form of the chosen style, or of a two-style mix: "a:0.7,b:0.3".
function styleSpec() {
  const a = ui.style.value, b = ui.style2.value, m = Number(ui.mix.value);
  if (!b || b === a) return a;
  return `${a}:${(1 - m).toFixed(3)},${b}:${m.toFixed(3)}`;
}

function form(blob, name) {
  const data = new FormData();
  data.append("image", blob, name);
  data.append("style", styleSpec());
  data.append("preserve_color", ui.preserve.checked ? "true" : "false");
  return data;
}

function replaceUrl(key, blob) {
  if (state[key]) URL.revokeObjectURL(state[key]);
  state[key] = blob ? URL.createObjectURL(blob) : null;
  return state[key];
}

// ---- styles and status ---------------------------------------------------------------

async function loadStatus() {
  const response = await fetch("/api/health");
  if (!response.ok) throw new Error(await errorOf(response));
  const h = await response.json();
  ui.status.textContent = `model ${h.models.join(" + ")} · ${h.styles.length} styles · ` +
    `${h.workers} worker${h.workers > 1 ? "s" : ""} × ${h.threads} ` +
    `thread${h.threads > 1 ? "s" : ""} · fastchi ${h.version}`;
}

async function loadStyles() {
  const response = await fetch("/api/styles");
  if (!response.ok) throw new Error(await errorOf(response));
  const { styles } = await response.json();
  for (const s of styles) {
    ui.style.add(new Option(s.name, s.name));
    ui.style2.add(new Option(s.name, s.name));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.name = s.name;
    button.title = `${s.name} (shift-click: mix with it)`;
    const img = document.createElement("img");
    img.src = s.thumbnail;
    img.alt = "";
    const label = document.createElement("span");
    label.textContent = s.name.replace(/_/g, " ");
    button.append(img, label);
    button.addEventListener("click", (event) => {
      if (event.shiftKey) ui.style2.value = s.name;
      else ui.style.value = s.name;
      styleChanged();
    });
    ui.thumbs.append(button);
  }
  markThumbs();
}

function markThumbs() {
  for (const b of ui.thumbs.children) {
    b.classList.toggle("chosen", b.dataset.name === ui.style.value);
    b.classList.toggle("second", b.dataset.name === ui.style2.value &&
                                 ui.style2.value !== ui.style.value);
  }
  const mixing = ui.style2.value && ui.style2.value !== ui.style.value;
  ui.mix.disabled = !mixing;
  ui.mixValue.textContent = mixing ? `${Math.round(ui.mix.value * 100)}%` : "";
}

let styleTimer = null;
function styleChanged() {
  markThumbs();
  state.steadyOut = null;  // a new style starts afresh, not from the old style's strokes
  if (state.running) return;  // live frames read the style as they go
  clearTimeout(styleTimer);
  styleTimer = setTimeout(stylizePhoto, 120);
}

// ---- photo mode ----------------------------------------------------------------------

function setPhoto(file) {
  if (!file) return;
  state.file = file;
  ui.original.src = replaceUrl("originalUrl", file);
  stopLive();
  stylizePhoto();
}

async function stylizePhoto() {
  if (!state.file || state.running) return;
  if (state.request) state.request.abort();
  const request = state.request = new AbortController();
  say(`stylizing ${state.file.name || "the photo"}...`);
  ui.download.classList.add("disabled");
  const start = performance.now();
  try {
    const response = await fetch("/api/stylize", {
      method: "POST", body: form(state.file, state.file.name || "photo"),
      signal: request.signal,
    });
    if (!response.ok) throw new Error(await errorOf(response));
    const blob = await response.blob();
    ui.result.src = replaceUrl("stylizedUrl", blob);
    await ui.result.decode();
    if (request !== state.request) return;
    showPhotoView();
    say(`${ui.result.naturalWidth}x${ui.result.naturalHeight} in ` +
        `${((performance.now() - start) / 1000).toFixed(1)} s`);
    await updateDownload();
  } catch (e) {
    if (e.name !== "AbortError") say(`error: ${e.message}`, true);
  }
}

function showPhotoView() {
  const has = Boolean(state.stylizedUrl);
  ui.original.hidden = !has;
  ui.result.hidden = !has;
  ui.placeholder.hidden = has;
  ui.result.style.opacity = ui.strength.value;
}

// The download at the photo's full size: the server's PNG at full strength, otherwise the
// photo and its stylized copy blended here as the page shows them.
async function updateDownload() {
  if (!state.stylizedUrl || state.running) return;
  const s = Number(ui.strength.value);
  const stem = (state.file.name || "photo").replace(/\.[^.]*$/, "");
  ui.download.download = `${stem}_stylized.png`;
  let href = state.stylizedUrl;
  if (s < 1) {
    const canvas = document.createElement("canvas");
    canvas.width = ui.result.naturalWidth;
    canvas.height = ui.result.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(ui.original, 0, 0, canvas.width, canvas.height);  // upright (EXIF)
    ctx.globalAlpha = s;
    ctx.drawImage(ui.result, 0, 0);
    const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
    href = replaceUrl("downloadUrl", blob);
  }
  ui.download.href = href;
  ui.download.classList.remove("disabled");
  ui.download.removeAttribute("aria-disabled");
}

// ---- live mode -----------------------------------------------------------------------

async function startLive() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("error: the camera needs https or localhost (this page is served over plain http)",
        true);
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia(
      { video: { width: { ideal: 320 }, height: { ideal: 240 } }, audio: false });
  } catch (e) {
    say(`error: no camera (${e.message || e.name})`, true);
    return;
  }
  ui.camera.srcObject = state.stream;
  await ui.camera.play();
  if (state.request) state.request.abort();
  state.running = true;
  state.frames = 0;
  state.times = [];
  state.rtts = [];
  state.steadyIn = state.steadyOut = null;
  ui.result.dataset.frames = "0";
  ui.live.textContent = "Stop camera";
  ui.live.classList.add("on");
  ui.download.classList.add("disabled");
  ui.original.hidden = true;
  ui.placeholder.hidden = true;
  ui.stack.classList.add("live");
  ui.result.style.opacity = 1;  // the server applies the strength to live frames
  say("live: the camera's frames, stylized");
  liveLoop();
}

function stopLive() {
  if (!state.running) return;
  state.running = false;
  for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  ui.camera.srcObject = null;
  ui.live.textContent = "Start camera";
  ui.live.classList.remove("on");
  ui.fps.textContent = "";
  ui.stack.classList.remove("live");
  ui.result.hidden = true;
  ui.placeholder.hidden = false;
  say("");
  if (state.file) stylizePhoto();
}

// One frame at a time: grab, send, show, then the next; frames the camera makes meanwhile
// are skipped, never queued.
async function liveLoop() {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const shown = document.createElement("canvas");
  const shownCtx = shown.getContext("2d", { willReadFrequently: true });
  while (state.running) {
    const vw = ui.camera.videoWidth, vh = ui.camera.videoHeight;
    if (!vw || !vh) {
      await new Promise((done) => setTimeout(done, 50));
      continue;
    }
    canvas.width = FRAME_WIDTH;
    canvas.height = Math.max(8, Math.round(FRAME_WIDTH * vh / vw));
    ctx.drawImage(ui.camera, 0, 0, canvas.width, canvas.height);
    const input = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const frame = await new Promise((done) => canvas.toBlob(done, "image/jpeg", FRAME_QUALITY));
    const data = form(frame, "frame.jpg");
    data.append("strength", ui.strength.value);
    const start = performance.now();
    try {
      const response = await fetch("/api/frame", { method: "POST", body: data });
      if (!response.ok) throw new Error(await errorOf(response));
      let blob = await response.blob();
      if (!state.running) break;
      if (ui.steady.checked) blob = await steadied(blob, input, shown, shownCtx);
      else state.steadyOut = null;
      ui.result.src = replaceUrl("stylizedUrl", blob);
      await ui.result.decode();
      ui.result.hidden = false;
      countFrame(performance.now() - start);
    } catch (e) {
      say(`error: ${e.message}`, true);
      await new Promise((done) => setTimeout(done, 500));  // no busy loop on a failing server
    }
  }
  state.stylizedUrl = replaceUrl("stylizedUrl", null);
}

// The server's frame blended with the last shown one (steady.js), as a PNG blob; the
// pixels kept for the next frame.
async function steadied(blob, input, shown, shownCtx) {
  const bitmap = await createImageBitmap(blob);
  shown.width = bitmap.width;
  shown.height = bitmap.height;
  shownCtx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = shownCtx.getImageData(0, 0, shown.width, shown.height);
  const out = steadyBlend(state.steadyIn, state.steadyOut, input, image.data, shown.width,
                          shown.height, STEADY_STRENGTH);
  state.steadyIn = input;
  state.steadyOut = out;
  if (out === image.data) return blob;  // nothing to blend with: the server's frame
  image.data.set(out);
  shownCtx.putImageData(image, 0, 0);
  return new Promise((done) => shown.toBlob(done, "image/png"));
}

function countFrame(rtt) {
  const now = performance.now();
  state.frames += 1;
  ui.result.dataset.frames = String(state.frames);
  state.times.push(now);
  state.rtts.push(rtt);
  while (state.times.length > 2 && now - state.times[0] > 2000) state.times.shift();
  if (state.rtts.length > 10) state.rtts.shift();
  const span = (now - state.times[0]) / 1000;
  const fps = state.times.length > 1 && span > 0 ? (state.times.length - 1) / span : 0;
  const mean = state.rtts.reduce((a, b) => a + b, 0) / state.rtts.length;
  ui.fps.textContent = `${fps.toFixed(1)} frames/s · ${Math.round(mean)} ms round trip`;
}

// ---- wiring --------------------------------------------------------------------------

ui.photo.addEventListener("change", () => setPhoto(ui.photo.files[0]));
for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (event) => {
    event.preventDefault();
    ui.drop.classList.add("over");
  });
}
document.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
document.addEventListener("drop", (event) => {
  event.preventDefault();  // not the browser's own opening of the file
  ui.drop.classList.remove("over");
  if (event.dataTransfer.files.length) setPhoto(event.dataTransfer.files[0]);
});
ui.style.addEventListener("change", styleChanged);
ui.style2.addEventListener("change", styleChanged);
ui.mix.addEventListener("input", () => { ui.mixValue.textContent = `${Math.round(ui.mix.value * 100)}%`; });
ui.mix.addEventListener("change", styleChanged);
ui.preserve.addEventListener("change", styleChanged);
ui.strength.addEventListener("input", () => {
  ui.strengthValue.textContent = `${Math.round(ui.strength.value * 100)}%`;
  if (!state.running) ui.result.style.opacity = ui.strength.value;  // no round trip
});
ui.strength.addEventListener("change", () => updateDownload());
ui.live.addEventListener("click", () => (state.running ? stopLive() : startLive()));

Promise.all([loadStatus(), loadStyles()]).catch((e) => {
  ui.status.textContent = `error: ${e.message}`;
});
