// web: boot MicroPython WebAssembly with TinyPolicy's device package in its file system (page and Node tests).
//
// `read(path)` returns the bytes (Uint8Array) of a file given relative to the repository root: `fetch` in the
// page (web/app.js), `fs.readFileSync` in Node (web/test/). The device package's file list is its mip
// manifest, device/package.json, so this never drifts from what `mip install` puts on a board.

const TEXT = new TextDecoder();

/** Write `data` at `path` in the emscripten FS, creating parent folders. */
export function writeFile(FS, path, data) {
  const parts = path.split("/").filter(Boolean);
  let dir = "";
  for (const part of parts.slice(0, -1)) {
    dir += "/" + part;
    if (!FS.analyzePath(dir).exists) FS.mkdir(dir);
  }
  FS.writeFile("/" + parts.join("/"), data);
}

/** The device package (as listed in device/package.json) into /lib (on sys.path), the app's float CartPole plant
 *  (APP_MODULES) and web/py/websim.py beside it, and every task's shipped blobs (blobPath) into the FS. Returns
 *  the list of FS paths written. */
export async function installDevice(mp, read) {
  const manifest = JSON.parse(TEXT.decode(await read("device/package.json")));
  const files = manifest.urls.map(([dest, src]) => ["/lib/" + dest, "device/" + src]);
  for (const m of APP_MODULES) files.push(["/lib/tinypolicy_app/" + m, "device/tinypolicy_app/" + m]);
  files.push(["/lib/websim.py", "web/py/websim.py"]);
  for (const task of Object.keys(TASKS)) {
    for (const dtype of DTYPES) files.push([blobPath(dtype, task), blobPath(dtype, task).slice(1)]);
  }
  for (const [dest, src] of files) writeFile(mp.FS, dest, await read(src));
  return files.map(([dest]) => dest);
}

export const DTYPES = ["f32", "int8", "q15"];

/** The page's tasks: where each one's blobs live (relative to the repository root, and at the same path in
 *  the MicroPython FS) and its simulation (a web/py/websim.py class). */
export const TASKS = {
  pendulum: { models: "models", sim: (ws, blob, o) => ws.Sim(blob, o.period, o.theta0, o.sigma, o.seed) },
  cartpole: { models: "models/zoo/cartpole", sim: (ws, blob, o) => ws.CartSim(blob, o.theta0, o.sigma, o.seed) },
};

/** Only these modules of the control app are needed (the rest is viper code: a SyntaxError on this port). */
const APP_MODULES = ["__init__.py", "cartpole.py"];

/** Where the shipped blob of `task` and `dtype` lives in the MicroPython FS. */
export function blobPath(dtype, task = "pendulum") {
  return "/" + TASKS[task].models + "/policy_" + dtype + ".bin";
}

/** A new websim simulation of `task` with the `dtype` blob; `opts`: period (ms; the pendulum's, CartPole-v1
 *  steps 20 ms), theta0 (rad), sigma (sensor noise), seed. */
export function newSim(mp, task, dtype, opts) {
  const o = { period: 20, theta0: 0.0, sigma: 0.0, seed: 1, ...opts };
  return TASKS[task].sim(mp.pyimport("websim"), blobPath(dtype, task), o);
}

/** loadMicroPython (the npm package's export) + installDevice. `log(line)` gets MicroPython's stdout/stderr. */
export async function bootMicroPython(loadMicroPython, read, log = () => {}) {
  const mp = await loadMicroPython({ stdout: log, stderr: log });
  await installDevice(mp, read);
  return mp;
}

/** '' when `task`'s `dtype` blob loads in this MicroPython, else the reason (one line, from the exception). */
export function dtypeProblem(mp, dtype, task = "pendulum") {
  try {
    newSim(mp, task, dtype, {});
    return "";
  } catch (err) {
    const msg = String(err.message || err).trim().split("\n").pop();
    return msg;
  }
}
