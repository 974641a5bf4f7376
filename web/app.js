// web: the demo page's controller: boots MicroPython, steps web/py/websim.py in real time, draws, reads out.
//
// Real time: each animation frame runs every control tick that is due (period = the control period). When
// the ticks of a frame take longer than the frame's budget, the rest are *missed*: the plant moves on under the
// last torque without a policy call, as a late timer tick on a board. Page state for tests: window.tinypolicy.
// URL parameters preset the controls: ?dtype=f32&period=10&noise=0&theta0=180 (degrees).
import { loadMicroPython } from "./node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs";
import { drawPendulum, drawPlot } from "./draw.mjs";
import { blobPath, bootMicroPython, DTYPES, dtypeProblem } from "./mpload.mjs";

const FRAME_BUDGET_MS = 12;  // policy + plant time per animation frame before ticks count as missed
const PAUSE_MS = 1000;       // a gap this long (background tab) pauses the clock instead of missing ticks
const PLOT_SPAN_S = 10;
const PUSH_RAD_S = 3.0;      // the push button's kick to theta_dot
const MAX_TORQUE = 2.0;

const $ = (id) => document.getElementById(id);
const state = (window.tinypolicy = { ready: false, error: "", problems: {}, log: [] });
let mp, sim, clock0, series, inferWindow, pushSign = 1;

async function readRepoFile(path) {
  const r = await fetch("../" + path);
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return new Uint8Array(await r.arrayBuffer());
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!isError);
}

function restart() {
  const dtype = $("dtype").value;
  const period = Number($("period").value);
  const theta0 = (Number($("theta0").value) * Math.PI) / 180;
  if (state.problems[dtype]) {
    setStatus(dtype + ": " + state.problems[dtype], true);
    $("dtype").value = "f32";
    return restart();
  }
  sim = mp.pyimport("websim").Sim(blobPath(dtype), period, theta0, Number($("noise").value), 1);
  Object.assign(state, { dtype, kernel: sim.kernel, period_ms: period, theta0, t: 0, ticks: 0, missed: 0,
                         upright_since: -1 });
  series = { theta: { t: [], v: [] }, torque: { t: [], v: [] } };
  inferWindow = [];
  clock0 = performance.now();
  setStatus(`running the ${dtype} policy (${sim.kernel} kernel) at a ${period} ms control period`);
}

function record() {
  const t = sim.t;
  series.theta.t.push(t); series.theta.v.push(sim.theta);
  series.torque.t.push(t); series.torque.v.push(sim.torque);
  inferWindow.push([t, sim.infer_us]);
  while (series.theta.t[0] < t - PLOT_SPAN_S - 1) {
    for (const s of [series.theta, series.torque]) { s.t.shift(); s.v.shift(); }
  }
  while (inferWindow[0][0] < t - 1) inferWindow.shift();
}

function frame() {
  const start = performance.now();
  const period = state.period_ms;
  let due = Math.floor((start - clock0) / period) - (state.ticks + state.missed);
  if (due * period > PAUSE_MS) { clock0 += (due - 1) * period; due = 1; }  // tab was hidden: pause, don't miss
  for (; due > 0 && performance.now() - start < FRAME_BUDGET_MS; due--) {
    sim.tick();
    state.ticks++;
    record();
  }
  for (; due > 0; due--) { sim.hold(); state.missed++; }
  const inferMean = inferWindow.reduce((a, x) => a + x[1], 0) / Math.max(1, inferWindow.length);
  Object.assign(state, { t: sim.t, theta: sim.theta, theta_dot: sim.theta_dot, torque: sim.torque,
                         upright_since: sim.upright_since, infer_us_mean: inferMean });
  show(inferMean);
  requestAnimationFrame(frame);
}

function show(inferMean) {
  drawPendulum($("pendulum"), state.theta, state.torque, MAX_TORQUE);
  drawPlot($("plot-theta"), series.theta, Math.max(state.t, PLOT_SPAN_S), PLOT_SPAN_S, -Math.PI, Math.PI,
           "θ (rad)", "#2563eb", 0.1);
  drawPlot($("plot-torque"), series.torque, Math.max(state.t, PLOT_SPAN_S), PLOT_SPAN_S, -MAX_TORQUE, MAX_TORQUE,
           "torque (N·m)", "#e8590c");
  $("r-t").textContent = state.t.toFixed(2);
  $("r-theta").textContent = state.theta.toFixed(3);
  $("r-torque").textContent = state.torque.toFixed(3);
  $("r-infer").textContent = inferMean.toFixed(0);
  $("r-ticks").textContent = state.ticks;
  $("r-missed").textContent = state.missed;
  $("r-upright").textContent = state.upright_since < 0 ? "no" : "since t = " + state.upright_since.toFixed(2) + " s";
}

function presetFromUrl() {
  const q = new URLSearchParams(location.search);
  for (const [key, id] of [["dtype", "dtype"], ["period", "period"], ["noise", "noise"], ["theta0", "theta0"]]) {
    if (q.has(key)) $(id).value = q.get(key);
  }
  $("noise-out").textContent = Number($("noise").value).toFixed(2);
}

async function main() {
  presetFromUrl();
  mp = await bootMicroPython(loadMicroPython, readRepoFile, (line) => state.log.push(line));
  for (const dtype of DTYPES) {
    state.problems[dtype] = dtypeProblem(mp, dtype);
    const opt = $("dtype").querySelector(`option[value="${dtype}"]`);
    opt.disabled = !!state.problems[dtype];
    if (opt.disabled) opt.title = state.problems[dtype];
  }
  for (const id of ["dtype", "period", "restart"]) $(id).addEventListener(id === "restart" ? "click" : "change", restart);
  $("noise").addEventListener("input", () => {
    $("noise-out").textContent = Number($("noise").value).toFixed(2);
    sim.sigma = Number($("noise").value);
  });
  $("push").addEventListener("click", () => { sim.push(pushSign * PUSH_RAD_S); pushSign = -pushSign; });
  restart();
  state.ready = true;
  requestAnimationFrame(frame);
}

main().catch((err) => {
  state.error = String(err.message || err);
  setStatus("error: " + state.error, true);
});
