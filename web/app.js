// web: the demo page's controller: boots MicroPython, steps web/py/websim.py in real time, draws, reads out.
//
// Real time: each animation frame runs every control tick that is due (period = the control period). When
// the ticks of a frame take longer than the frame's budget, the rest are *missed*: the plant moves on under the
// last command without a policy call, as a late timer tick on a board. Page state for tests: window.tinypolicy.
// Two tasks (TASK below): the pendulum swing-up (the shipped policy) and CartPole-v1 (the zoo's policy; its step
// is gymnasium's tau = 20 ms, so the period is fixed there). When the pole falls (|theta| > 12 deg or the cart
// beyond |x| > 2.4 m) the page shows it and starts a new episode from the start angle after FALL_PAUSE_MS.
// URL parameters preset the controls: ?task=cartpole&dtype=f32&period=10&noise=0&theta0=180 (degrees).
import { loadMicroPython } from "./node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs";
import { drawCartPole, drawPendulum, drawPlot } from "./draw.mjs";
import { bootMicroPython, DTYPES, dtypeProblem, newSim, TASKS } from "./mpload.mjs";

const FRAME_BUDGET_MS = 12;  // policy + plant time per animation frame before ticks count as missed
const PAUSE_MS = 1000;       // a gap this long (background tab) pauses the clock instead of missing ticks
const FALL_PAUSE_MS = 1500;  // CartPole: how long a fall stays on screen before the next episode
const MAX_TORQUE = 2.0;
const CART = { xLimit: 2.4, thetaLimit: (12 * Math.PI) / 180, force: 10.0, poleM: 1.0, episode: 500 };

/** Per task: plot span (s), push (rad/s on the pole), start angle range (deg), the plots, drawing, readouts. */
const TASK = {
  pendulum: {
    span: 10, push: 3.0, theta0: 180, thetaMax: 180, noiseUnit: "rad, rad/s",
    about: "Pendulum-v1 dynamics (g = 10, m = l = 1, |u| ≤ 2 N·m), θ = 0 upright; upright means |θ| < 0.1 rad.",
    plots: [
      { id: "plot-theta", h: 170, key: "theta", lo: -Math.PI, hi: Math.PI, label: "θ (rad)", color: "#2563eb", band: 0.1 },
      { id: "plot-torque", h: 170, key: "torque", lo: -MAX_TORQUE, hi: MAX_TORQUE, label: "torque (N·m)",
        color: "#e8590c" },
    ],
    draw: (c, s) => drawPendulum(c, s.theta, s.torque, MAX_TORQUE),
    command: ["torque", "N·m", "torque"],
    balance: (s) => (s.upright_since < 0 ? "no" : "since t = " + s.upright_since.toFixed(2) + " s"),
  },
  cartpole: {
    span: 5, push: 0.5, theta0: 3, thetaMax: 11, noiseUnit: "m, m/s, rad, rad/s",
    about: "CartPole-v1 dynamics (gymnasium: g = 9.8, cart 1 kg, pole 0.1 kg and 1 m, push ±10 N, τ = 20 ms, " +
      "Euler); it falls at |θ| > 12° or |x| > 2.4 m; an episode of CartPole-v1 ends after 500 steps, here it goes on.",
    plots: [
      { id: "plot-theta", h: 114, key: "theta", lo: -0.3, hi: 0.3, label: "θ (rad)", color: "#2563eb",
        band: CART.thetaLimit },
      { id: "plot-x", h: 114, key: "x", lo: -3, hi: 3, label: "x (m)", color: "#0f766e", band: CART.xLimit },
      { id: "plot-torque", h: 114, key: "force", lo: -15, hi: 15, label: "push (N): action 1 right, 0 left",
        color: "#e8590c", steps: true },
    ],
    draw: (c, s) => drawCartPole(c, s.x, s.theta, s.force, CART.xLimit, CART.poleM, s.fell),
    command: ["push", "N", "force"],
    balance: (s) => `${s.steps} steps${s.steps >= CART.episode ? " (a full CartPole-v1 episode)" : ""}, ` +
      `best ${s.best}, falls ${s.falls}`,
  },
};

const $ = (id) => document.getElementById(id);
const state = (window.tinypolicy = { ready: false, error: "", problems: {}, log: [] });
let mp, sim, clock0, series, inferWindow, pushSign = 1, fellAt = 0;
const theta0ByTask = {};
const pendulumPeriod = { value: "10" };

async function readRepoFile(path) {
  const r = await fetch("../" + path);
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return new Uint8Array(await r.arrayBuffer());
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!isError);
}

/** A new episode with the controls' settings; `again` (after a CartPole fall) keeps the fall / best counts. */
function restart(again = false) {
  const task = $("task").value, T = TASK[task];
  const dtype = $("dtype").value;
  const period = task === "cartpole" ? 20 : Number($("period").value);
  const deg = Math.max(-T.thetaMax, Math.min(T.thetaMax, Number($("theta0").value)));
  $("theta0").value = deg;
  const theta0 = (deg * Math.PI) / 180;
  const problem = state.problems[task] && state.problems[task][dtype];
  if (problem) {
    setStatus(task + " " + dtype + ": " + problem, true);
    $("dtype").value = "f32";
    return restart(again);
  }
  const seed = again ? 1 + state.falls : 1;  // after a fall: other sensor noise than the episode before
  sim = newSim(mp, task, dtype, { period, theta0, sigma: Number($("noise").value), seed });
  Object.assign(state, { task, dtype, kernel: sim.kernel, period_ms: period, theta0, t: 0, ticks: 0, missed: 0,
                         upright_since: -1, steps: 0, fell: "" });
  if (!again) Object.assign(state, { best: 0, falls: 0, fall_steps: [] });
  series = {};
  for (const p of T.plots) series[p.key] = { t: [], v: [] };
  inferWindow = [];
  clock0 = performance.now();
  setStatus(`${task}: running the ${dtype} policy (${sim.kernel} kernel) at a ${period} ms control period`);
}

/** The controls and plots of the selected task (the pendulum's period is kept while CartPole runs). */
function selectTask(previous) {
  const task = $("task").value, T = TASK[task];
  if (previous) theta0ByTask[previous] = $("theta0").value;
  $("theta0").value = theta0ByTask[task] ?? T.theta0;
  $("theta0").min = -T.thetaMax; $("theta0").max = T.thetaMax;
  if (task === "cartpole") {
    if (previous === "pendulum") pendulumPeriod.value = $("period").value;
    $("period").value = "20";
  } else if (previous === "cartpole") {
    $("period").value = pendulumPeriod.value;
  }
  $("period").disabled = task === "cartpole";
  $("period").title = task === "cartpole" ? "CartPole-v1 steps τ = 20 ms" : "";
  $("noise-unit").textContent = T.noiseUnit;
  $("about").textContent = T.about;
  [$("k-torque").textContent, $("u-torque").textContent] = T.command;
  $("k-upright").textContent = task === "cartpole" ? "balanced" : "upright";
  $("row-x").hidden = task !== "cartpole";
  const used = new Set(T.plots.map((p) => p.id));
  for (const id of ["plot-theta", "plot-x", "plot-torque"]) $(id).hidden = !used.has(id);
  for (const p of T.plots) $(p.id).height = p.h;
  for (const dtype of DTYPES) {
    const opt = $("dtype").querySelector(`option[value="${dtype}"]`);
    const problem = state.problems[task][dtype];
    opt.disabled = !!problem;
    opt.title = problem;
  }
}

function record() {
  const t = sim.t, span = TASK[state.task].span;
  for (const key of Object.keys(series)) { series[key].t.push(t); series[key].v.push(sim[key]); }
  inferWindow.push([t, sim.infer_us]);
  const first = Object.values(series)[0];
  while (first.t[0] < t - span - 1) {
    for (const s of Object.values(series)) { s.t.shift(); s.v.shift(); }
  }
  while (inferWindow[0][0] < t - 1) inferWindow.shift();
}

function frame() {
  const start = performance.now();
  if (state.fell) {
    if (start - fellAt >= FALL_PAUSE_MS) restart(true);
    requestAnimationFrame(frame);
    return;
  }
  const period = state.period_ms;
  let due = Math.floor((start - clock0) / period) - (state.ticks + state.missed);
  if (due * period > PAUSE_MS) { clock0 += (due - 1) * period; due = 1; }  // tab was hidden: pause, don't miss
  for (; due > 0 && performance.now() - start < FRAME_BUDGET_MS && !sim.terminated; due--) {
    sim.tick();
    state.ticks++;
    record();
  }
  for (; due > 0 && !sim.terminated; due--) { sim.hold(); state.missed++; }
  const inferMean = inferWindow.reduce((a, x) => a + x[1], 0) / Math.max(1, inferWindow.length);
  Object.assign(state, { t: sim.t, theta: sim.theta, theta_dot: sim.theta_dot, infer_us_mean: inferMean });
  if (state.task === "cartpole") {
    Object.assign(state, { x: sim.x, x_dot: sim.x_dot, action: sim.action, force: sim.force, steps: sim.steps,
                           terminated: sim.terminated });
    state.best = Math.max(state.best, state.steps);
    if (sim.terminated) fall();
  } else {
    Object.assign(state, { torque: sim.torque, upright_since: sim.upright_since });
  }
  show(inferMean);
  requestAnimationFrame(frame);
}

/** CartPole: the pole fell (or the cart left the track): show it, count it, restart after FALL_PAUSE_MS. */
function fall() {
  const why = state.terminated === "x" ? "|x| > 2.4 m" : "|θ| > 12°";
  state.falls++;
  state.fall_steps.push(state.steps);
  state.fell = `fell: ${why} after ${state.steps} steps`;
  fellAt = performance.now();
  setStatus(`cartpole: ${state.fell}; a new episode from ${$("theta0").value}° in ${FALL_PAUSE_MS / 1000} s`, true);
}

function show(inferMean) {
  const T = TASK[state.task];
  T.draw($("scene"), state);
  const tEnd = Math.max(state.t, T.span);
  for (const p of T.plots) {
    drawPlot($(p.id), series[p.key], tEnd, T.span, p.lo, p.hi, p.label, p.color, p.band, p.steps);
  }
  $("r-t").textContent = state.t.toFixed(2);
  $("r-theta").textContent = state.theta.toFixed(3);
  $("r-torque").textContent = state[T.command[2]].toFixed(T.command[2] === "force" ? 0 : 3);
  if (state.task === "cartpole") $("r-x").textContent = state.x.toFixed(3);
  $("r-infer").textContent = inferMean.toFixed(0);
  $("r-ticks").textContent = state.ticks;
  $("r-missed").textContent = state.missed;
  $("r-upright").textContent = T.balance(state);
}

function presetFromUrl() {
  const q = new URLSearchParams(location.search);
  const ids = [["task", "task"], ["dtype", "dtype"], ["period", "period"], ["noise", "noise"], ["theta0", "theta0"]];
  for (const [key, id] of ids) {
    if (q.has(key)) $(id).value = q.get(key);
  }
  if (q.has("theta0")) theta0ByTask[$("task").value] = q.get("theta0");
  $("noise-out").textContent = Number($("noise").value).toFixed(2);
}

async function main() {
  presetFromUrl();
  mp = await bootMicroPython(loadMicroPython, readRepoFile, (line) => state.log.push(line));
  for (const task of Object.keys(TASKS)) {
    state.problems[task] = {};
    for (const dtype of DTYPES) state.problems[task][dtype] = dtypeProblem(mp, dtype, task);
  }
  let task = $("task").value;
  selectTask();
  $("task").addEventListener("change", () => { selectTask(task); task = $("task").value; restart(); });
  for (const id of ["dtype", "period"]) $(id).addEventListener("change", () => restart());
  $("restart").addEventListener("click", () => restart());
  $("noise").addEventListener("input", () => {
    $("noise-out").textContent = Number($("noise").value).toFixed(2);
    sim.sigma = Number($("noise").value);
  });
  $("push").addEventListener("click", () => {
    sim.push(pushSign * TASK[state.task].push);
    pushSign = -pushSign;
  });
  restart();
  state.ready = true;
  requestAnimationFrame(frame);
}

main().catch((err) => {
  state.error = String(err.message || err);
  setStatus("error: " + state.error, true);
});
