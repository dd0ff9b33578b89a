// kws-demo's page: the microphone through an AudioWorklet to kws-demo's WebSocket, what the model heard
// back into the page (the bars: bars.js); a dropped file to kws-demo's upload, its detections on a
// timeline. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, socket: null, context: null, media: null, stopping: false };

function say(message, kind = "error") {
  const status = $("status");
  status.textContent = message;
  status.className = kind;
}

async function loadModel() {
  try {
    const response = await fetch("/api/model");
    state.model = await response.json();
  } catch (err) {
    say("The kws-demo server is gone: start it again (kws-demo MODEL) and reload this page.");
    return;
  }
  const { labels, sample_rate, settings, source, calibrated } = state.model;
  $("model").textContent =
    `${source}: ${labels.length} labels at ${sample_rate} Hz; threshold ${settings.threshold}, ` +
    `smoothing ${settings.smooth} windows, hop ${settings.hop_s} s` + (calibrated ? " (calibrated)" : "");
  buildBars(labels, settings.threshold);
}

function microphoneProblem(err) {
  switch (err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The microphone permission was refused: allow the microphone for this page (the icon in " +
        "the address bar, or the browser's site settings) and press Listen again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found: connect or enable one, then press Listen again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone could not be opened: another program may be using it.";
    default:
      return `The microphone could not be opened (${err.name}: ${err.message}).`;
  }
}

async function start() {
  if (!state.model) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser gives this page no microphone: open it as http://127.0.0.1 or over https.");
    return;
  }
  const rate = state.model.sample_rate;
  // Made before anything is awaited, while the click still counts as the user's: browsers start an audio
  // context made later suspended (autoplay policy).
  try {
    state.context = new AudioContext({ sampleRate: rate }); // the browser resamples to the model's rate
  } catch (err) {
    state.context = new AudioContext(); // the worklet resamples
  }
  say("Asking for the microphone…", "info");
  try {
    // The model was trained on recordings without echo cancellation, noise suppression or automatic gain.
    state.media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    });
  } catch (err) {
    stopAudio();
    say(microphoneProblem(err));
    return;
  }
  await state.context.resume();
  await state.context.audioWorklet.addModule("/static/worklet.js");
  const source = state.context.createMediaStreamSource(state.media);
  const capture = new AudioWorkletNode(state.context, "kws-capture", {
    processorOptions: { targetRate: rate, chunk: Math.round(rate / 10) },
  });
  const mute = state.context.createGain();
  mute.gain.value = 0;
  source.connect(capture).connect(mute).connect(state.context.destination);

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/listen`);
  socket.binaryType = "arraybuffer";
  state.socket = socket;
  state.stopping = false;
  capture.port.onmessage = (event) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
  };
  socket.onopen = () => {
    say("Listening: say one of the keywords.", "info");
    $("start").disabled = true;
    $("stop").disabled = false;
    $("detections").replaceChildren();
    delete $("detections").dataset.firstSound;
  };
  socket.onmessage = (event) => show(JSON.parse(event.data));
  socket.onclose = (event) => {
    const expected = state.stopping;
    stopAudio();
    arrangeBars();
    if (expected) return;
    if (event.code === 1006 || event.code === 1001 || !event.reason) {
      say("The kws-demo server is gone (the connection dropped): start it again and reload this page.");
    } else {
      say(`kws-demo closed the connection: ${event.reason}.`); // a bound this page broke, or too many pages
    }
  };
}

function stopAudio() {
  if (state.media) state.media.getTracks().forEach((track) => track.stop());
  if (state.context) state.context.close();
  state.media = state.context = null;
  $("start").disabled = false;
  $("stop").disabled = true;
}

function stop() {
  state.stopping = true;
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify({ type: "stop" })); // the server decides the last crossings
  }
  stopAudio();
  say("Stopped.", "info");
}

function show(message) {
  $("clock").textContent = `${message.seconds.toFixed(1)} s`;
  $("level").value = Math.max(-90, message.level_dbfs);
  $("level-text").textContent = `${message.level_dbfs.toFixed(0)} dBFS`;
  if (message.first_sound_s !== null) $("detections").dataset.firstSound = message.first_sound_s;
  if (message.posteriors) showPosteriors(message.posteriors, state.model.settings.threshold);
  const list = $("detections");
  for (const detection of message.detections) list.append(item(detection, "fresh"));
  if (message.detections.length) list.scrollTop = list.scrollHeight; // the newest in view
}

function item(detection, className = "") {
  const li = document.createElement("li");
  li.className = className;
  li.dataset.label = detection.label;
  li.dataset.time = detection.time;
  li.dataset.prob = detection.prob;
  li.textContent = `${detection.label} at ${detection.time.toFixed(2)} s (peak ${detection.prob.toFixed(3)})`;
  return li;
}

async function searchFile(file) {
  if (!file) return;
  say(`Searching ${file.name}…`, "info");
  let response;
  try {
    response = await fetch(`/api/detect?name=${encodeURIComponent(file.name)}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: file,
    });
  } catch (err) {
    say("The kws-demo server is gone: start it again and reload this page.");
    return;
  }
  const result = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) {
    say(response.status === 413 ? `${file.name} is too big for kws-demo.` : result.error);
    return;
  }
  const note = result.notes.length ? ` (${result.notes.join("; ")})` : "";
  say(`${result.name}: ${result.detections.length} detections in ${result.seconds.toFixed(1)} s${note}.`, "info");
  const track = $("track");
  track.replaceChildren();
  track.dataset.seconds = result.seconds;
  for (const detection of result.detections) {
    const marker = document.createElement("div");
    marker.className = "marker";
    marker.dataset.label = detection.label;
    marker.dataset.time = detection.time;
    marker.style.left = `${(100 * detection.time) / result.seconds}%`;
    marker.title = `${detection.label} at ${detection.time.toFixed(2)} s (peak ${detection.prob.toFixed(3)})`;
    marker.textContent = detection.label;
    track.append(marker);
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span>${(f * result.seconds).toFixed(1)} s</span>`);
  $("axis").innerHTML = ticks.join("");
  $("timeline").hidden = false;
  $("file-detections").replaceChildren(...result.detections.map((d) => item(d)));
}

function setUpDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    searchFile(event.dataTransfer.files[0]);
  });
  $("file-input").addEventListener("change", (event) => searchFile(event.target.files[0]));
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
setUpDrop();
loadModel();
