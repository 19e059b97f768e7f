// ScanTalk live viewer: the face's frames from a WebSocket, drawn with plain WebGL when the audio
// clock reaches their time. The protocol is documented in scantalk/live/protocol.py.
//
// Audio chunks are scheduled with WebAudio `delay` seconds after they arrive (the stream's latency
// plus a margin, `?delay=SECONDS` to change it), so each frame arrives before its sound is heard.
// Each animation frame draws the newest frame whose time the audio has reached; frames the audio
// has passed before they could be drawn are skipped. A frame that arrives after its moment makes
// the page play later from then on (the delay grows). Without sound (the browser waits for a
// click) the wall clock stands in for the audio clock.
//
// window.scantalkLive holds the figures a test reads: framesReceived, framesDrawn, framesSkipped,
// framesLate, audioChunks, anchors (times the audio clock was tied to the timeline), delay (s),
// audioTime and lastFrameTime (timeline seconds), syncError and maxSyncError (how far the heard
// audio was outside the drawn frame's own 1/fps slot when it was drawn, seconds).
"use strict";
(() => {
  const MARGIN_S = 0.15;       // compute, network and page time allowed on top of the stream's latency
  const MAX_FRAMES = 300;
  const MAX_OUTPUT_LATENCY_S = 0.5;  // an output timestamp further behind the rendered audio is stale      // frames held for drawing (10 s at 30 fps) before the oldest go
  const SKIN = [0.86, 0.72, 0.64];

  const stats = window.scantalkLive = {
    connected: false, fps: null, latency: null, delay: null, sessions: 0, audioState: "none",
    framesReceived: 0, framesDrawn: 0, framesSkipped: 0, framesLate: 0, audioChunks: 0, anchors: 0,
    audioTime: null, lastFrameTime: null, syncError: null, maxSyncError: 0, errors: [],
  };
  const status = document.getElementById("status");
  const soundButton = document.getElementById("sound");
  const canvas = document.getElementById("view");
  const gl = canvas.getContext("webgl", { antialias: true, preserveDrawingBuffer: true });
  if (!gl) { status.textContent = "this browser has no WebGL"; return; }
  gl.getExtension("OES_element_index_uint");

  // ---- audio clock ----------------------------------------------------------------------------
  let audio = null;
  try { audio = new AudioContext({ latencyHint: "playback" }); } catch (error) { audio = null; }
  const audible = () => audio !== null && audio.state === "running";
  // The moment being heard now, in the clock audio is scheduled on: the output timestamp (the
  // sample at the speaker, and when), run on to now; the rendered time less the output latency
  // while the output has not settled (right after it starts, the stamp may be stale or ahead).
  function heardNow() {
    if (!audible()) return performance.now() / 1000;
    const rendered = audio.currentTime;
    const settled = rendered - (audio.outputLatency || 0) - (audio.baseLatency || 0);
    const stamp = audio.getOutputTimestamp ? audio.getOutputTimestamp() : null;
    if (!stamp || !(stamp.performanceTime > 0)) return settled;
    const heard = stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000;
    return heard <= rendered && heard > rendered - MAX_OUTPUT_LATENCY_S ? heard : settled;
  }
  const scheduleNow = () => (audible() ? audio.currentTime : performance.now() / 1000);
  let base = null;             // clock time at which timeline time 0 is heard
  let audioEnd = -Infinity;    // timeline time where the audio received so far ends
  // Timeline seconds heard now. Never past the audio received: when it runs dry (the page was
  // busy, the network slow) nothing is heard, and the face waits with the sound.
  const heardTime = () => Math.min(heardNow() - base, audioEnd);
  function onAudioState() {
    stats.audioState = audio ? audio.state : "none";
    soundButton.style.display = audible() ? "none" : "block";
    base = null;               // the clock changed: anchor again on the next chunk
  }
  if (audio) audio.onstatechange = onAudioState;
  soundButton.onclick = () => audio && audio.resume();
  onAudioState();

  let queued = [];             // audio scheduled, not yet started: {source, buffer, time}
  function play(buffer, time) {
    const source = audio.createBufferSource();
    source.buffer = buffer;
    source.connect(audio.destination);
    source.start(base + time);
    queued.push({ source, buffer, time });
  }

  function onAudio(time, rate, samples) {
    stats.audioChunks += 1;
    const now = scheduleNow();
    if (base === null || base + time < now + 0.005) {  // first chunk, or the audio ran dry: anchor
      base = now + stats.delay - time;
      stats.anchors += 1;
    }
    audioEnd = Math.max(audioEnd, time + samples.length / rate);
    if (!audible() || samples.length === 0) return;
    const buffer = audio.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    queued = queued.filter((item) => base + item.time > now);
    play(buffer, time);
  }

  // A frame that comes after its moment was heard: the server or the network fell behind (or the
  // audio skipped on a busy machine). Play everything `late` seconds later from here on, the
  // audio not yet started included, so the frames are in time again (a gap in the sound, once).
  function fallBack(late) {
    const now = scheduleNow();
    base += late;
    stats.delay += late;
    stats.anchors += 1;
    const waiting = queued.filter((item) => base - late + item.time > now);
    queued = [];
    for (const item of waiting) { item.source.stop(); play(item.buffer, item.time); }
  }

  // ---- the face -------------------------------------------------------------------------------
  let mesh = null;             // {count, triangles (Uint32Array|null), positions, normals, center, radius}
  let frames = [];             // received, not yet drawn: {time, vertices}
  let shown = null;            // the frame on screen
  let view = { up: [0, 1, 0], forward: [0, 0, 1] };
  let yaw = 0, pitch = 0, dirty = true;

  const program = linkProgram(`
    attribute vec3 position; attribute vec3 normal;
    uniform mat4 transform; uniform float pointSize; varying vec3 surfaceNormal;
    void main() { surfaceNormal = normal; gl_Position = transform * vec4(position, 1.0); gl_PointSize = pointSize; }`, `
    precision mediump float;
    varying vec3 surfaceNormal; uniform vec3 light; uniform vec3 skin; uniform float lit;
    void main() {
      vec3 n = normalize(surfaceNormal + vec3(1e-7));
      float shade = mix(1.0, 0.25 + 0.75 * abs(dot(n, light)), lit);  // two-sided: any winding
      gl_FragColor = vec4(skin * shade, 1.0);
    }`);
  const where = {
    position: gl.getAttribLocation(program, "position"), normal: gl.getAttribLocation(program, "normal"),
    transform: gl.getUniformLocation(program, "transform"), pointSize: gl.getUniformLocation(program, "pointSize"),
    light: gl.getUniformLocation(program, "light"), skin: gl.getUniformLocation(program, "skin"),
    lit: gl.getUniformLocation(program, "lit"),
  };
  const positionBuffer = gl.createBuffer(), normalBuffer = gl.createBuffer(), indexBuffer = gl.createBuffer();

  function linkProgram(vertexSource, fragmentSource) {
    const linked = gl.createProgram();
    for (const [kind, source] of [[gl.VERTEX_SHADER, vertexSource], [gl.FRAGMENT_SHADER, fragmentSource]]) {
      const shader = gl.createShader(kind);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
      gl.attachShader(linked, shader);
    }
    gl.linkProgram(linked);
    return linked;
  }

  function onMesh(rest, triangles) {
    let low = [Infinity, Infinity, Infinity], high = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < rest.length; i += 3) {
      for (let k = 0; k < 3; k++) { low[k] = Math.min(low[k], rest[i + k]); high[k] = Math.max(high[k], rest[i + k]); }
    }
    const center = [0, 1, 2].map((k) => (low[k] + high[k]) / 2);
    const radius = Math.hypot(high[0] - low[0], high[1] - low[1], high[2] - low[2]) / 2 || 1;
    mesh = { count: rest.length / 3, triangles: triangles.length ? triangles : null,
             normals: new Float32Array(rest.length), center, radius };
    if (mesh.triangles) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, indexBuffer);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, mesh.triangles, gl.STATIC_DRAW);
    }
    frames = [];
    upload(new Float32Array(rest));
  }

  function upload(positions) {
    if (mesh.triangles) vertexNormals(positions, mesh.triangles, mesh.normals);
    gl.bindBuffer(gl.ARRAY_BUFFER, positionBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, positions, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, normalBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.normals, gl.DYNAMIC_DRAW);
    dirty = true;
  }

  function vertexNormals(p, triangles, out) {
    out.fill(0);
    for (let t = 0; t < triangles.length; t += 3) {
      const a = 3 * triangles[t], b = 3 * triangles[t + 1], c = 3 * triangles[t + 2];
      const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
      const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
      const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;  // area-weighted
      for (const i of [a, b, c]) { out[i] += nx; out[i + 1] += ny; out[i + 2] += nz; }
    }
  }

  // ---- camera (column-major 4×4 matrices) -----------------------------------------------------
  const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const unit = (a) => { const n = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / n, a[1] / n, a[2] / n]; };
  const along = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
  const add = (...vs) => vs.reduce((s, v) => [s[0] + v[0], s[1] + v[1], s[2] + v[2]]);
  function multiply(a, b) {
    const out = new Float32Array(16);
    for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
      out[c * 4 + r] = s;
    }
    return out;
  }
  function camera() {
    const up = unit(view.up), front = unit(view.forward), right = unit(cross(up, front));
    // Orbit: the eye turns about the face's up axis (yaw) and its right axis (pitch).
    const heading = add(along(front, Math.cos(yaw)), along(right, Math.sin(yaw)));
    const toEye = unit(add(along(heading, Math.cos(pitch)), along(up, Math.sin(pitch))));
    const fov = (30 * Math.PI) / 180, distance = (mesh.radius / Math.sin(fov / 2)) * 1.05;
    const eye = add(mesh.center, along(toEye, distance));
    const z = toEye, x = unit(cross(up, z)), y = cross(z, x);
    const lookAt = new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
      -(x[0] * eye[0] + x[1] * eye[1] + x[2] * eye[2]), -(y[0] * eye[0] + y[1] * eye[1] + y[2] * eye[2]),
      -(z[0] * eye[0] + z[1] * eye[1] + z[2] * eye[2]), 1]);
    const near = Math.max(distance - 2 * mesh.radius, distance * 0.01), far = distance + 2 * mesh.radius;
    const aspect = canvas.width / canvas.height, f = 1 / Math.tan(fov / 2);
    const perspective = new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1,
      0, 0, (2 * far * near) / (near - far), 0]);
    return { transform: multiply(perspective, lookAt), light: unit(add(toEye, along(up, 0.5))) };
  }
  let dragging = null;
  canvas.onpointerdown = (event) => { dragging = [event.clientX, event.clientY]; canvas.setPointerCapture(event.pointerId); };
  canvas.onpointerup = () => { dragging = null; };
  canvas.onpointermove = (event) => {
    if (!dragging) return;
    yaw -= (event.clientX - dragging[0]) * 0.01;
    pitch = Math.max(-1.4, Math.min(1.4, pitch + (event.clientY - dragging[1]) * 0.01));
    dragging = [event.clientX, event.clientY];
    dirty = true;
  };

  function render() {
    const width = Math.round(canvas.clientWidth * devicePixelRatio), height = Math.round(canvas.clientHeight * devicePixelRatio);
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(0.118, 0.122, 0.141, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    gl.useProgram(program);
    const { transform, light } = camera();
    gl.uniformMatrix4fv(where.transform, false, transform);
    gl.uniform3fv(where.light, light);
    gl.uniform3fv(where.skin, SKIN);
    gl.uniform1f(where.lit, mesh.triangles ? 1 : 0);
    gl.uniform1f(where.pointSize, Math.max(1, devicePixelRatio * 2));
    for (const [buffer, at] of [[positionBuffer, where.position], [normalBuffer, where.normal]]) {
      gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
      gl.enableVertexAttribArray(at);
      gl.vertexAttribPointer(at, 3, gl.FLOAT, false, 0, 0);
    }
    if (mesh.triangles) {
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, indexBuffer);
      gl.drawElements(gl.TRIANGLES, mesh.triangles.length, gl.UNSIGNED_INT, 0);
    } else {
      gl.drawArrays(gl.POINTS, 0, mesh.count);
    }
    dirty = false;
  }

  // ---- drawing in time ------------------------------------------------------------------------
  function onFrame(time, vertices) {
    stats.framesReceived += 1;
    if (base !== null && heardTime() > time + 1 / stats.fps) {
      stats.framesLate += 1;
      fallBack(heardTime() - time + MARGIN_S);
    }
    frames.push({ time, vertices });
    while (frames.length > MAX_FRAMES) { frames.shift(); stats.framesSkipped += 1; }
  }

  function tick() {
    requestAnimationFrame(tick);
    if (!mesh) return;
    if (base !== null) {
      const heard = heardTime();
      stats.audioTime = heard;
      let next = null;
      while (frames.length && frames[0].time <= heard) {
        if (next) stats.framesSkipped += 1;   // the audio passed it before it could be drawn
        next = frames.shift();
      }
      if (next) {
        upload(next.vertices);
        shown = next;
        const slot = 1 / stats.fps;
        stats.syncError = heard < next.time ? next.time - heard : Math.max(0, heard - next.time - slot);
        stats.maxSyncError = Math.max(stats.maxSyncError, stats.syncError);
        stats.lastFrameTime = next.time;
        stats.framesDrawn += 1;
      }
    }
    if (dirty) render();
  }
  requestAnimationFrame(tick);

  setInterval(() => {
    const sound = audible() ? "sound on" : "no sound (click the button)";
    status.textContent = !stats.connected ? "connecting…" : [
      `${stats.fps} fps · latency ${(stats.latency * 1000).toFixed(0)} ms · playing ${(stats.delay * 1000).toFixed(0)} ms behind · ${sound}`,
      `frames ${stats.framesDrawn} drawn of ${stats.framesReceived} · ${stats.framesSkipped} skipped · ` +
      `sync ${stats.syncError === null ? "–" : (stats.syncError * 1000).toFixed(0)} ms (worst ${(stats.maxSyncError * 1000).toFixed(0)})`,
      ...stats.errors.slice(-1),
    ].join("\n");
  }, 250);

  // ---- the WebSocket --------------------------------------------------------------------------
  function tagOf(data) { return String.fromCharCode(...new Uint8Array(data, 0, 4)); }
  function onBinary(data) {
    const header = new DataView(data), tag = tagOf(data);
    if (tag === "FRAM") {
      const count = header.getUint32(16, true), channels = header.getUint32(20, true);
      onFrame(header.getFloat64(8, true), new Float32Array(data, 24 + 4 * channels, 3 * count));
    } else if (tag === "AUDI") {
      onAudio(header.getFloat64(8, true), header.getUint32(4, true), new Float32Array(data, 24, header.getUint32(16, true)));
    } else if (tag === "MESH") {
      const count = header.getUint32(4, true), triangles = header.getUint32(8, true);
      onMesh(new Float32Array(data, 16, 3 * count), new Uint32Array(data, 16 + 12 * count, 3 * triangles));
    }
  }
  function onText(message) {
    if (message.type === "hello") {
      Object.assign(stats, { fps: message.fps, latency: message.latency });
      const asked = parseFloat(new URLSearchParams(location.search).get("delay"));
      stats.delay = Number.isFinite(asked) ? asked : message.latency + MARGIN_S;
      view = message.view;
    } else if (message.type === "start") {
      stats.sessions += 1;
    } else if (message.type === "error") {
      stats.errors.push(message.message);
    }
  }
  function connect() {
    const socket = new WebSocket(`ws://${location.host}/stream`);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { stats.connected = true; };
    socket.onmessage = (event) => (typeof event.data === "string" ? onText(JSON.parse(event.data)) : onBinary(event.data));
    socket.onclose = () => { stats.connected = false; base = null; audioEnd = -Infinity; setTimeout(connect, 1000); };
  }
  connect();
})();
