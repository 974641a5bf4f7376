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

/** The device package (as listed in device/package.json) into /lib (on sys.path), web/py/websim.py beside it,
 *  and the shipped blobs into /models. Returns the list of FS paths written. */
export async function installDevice(mp, read) {
  const manifest = JSON.parse(TEXT.decode(await read("device/package.json")));
  const written = [];
  for (const [dest, src] of manifest.urls) {
    writeFile(mp.FS, "/lib/" + dest, await read("device/" + src));
    written.push("/lib/" + dest);
  }
  writeFile(mp.FS, "/lib/websim.py", await read("web/py/websim.py"));
  for (const dtype of DTYPES) {
    writeFile(mp.FS, blobPath(dtype), await read("models/policy_" + dtype + ".bin"));
  }
  return written.concat(["/lib/websim.py"], DTYPES.map(blobPath));
}

export const DTYPES = ["f32", "int8", "q15"];

/** Where the shipped blob of `dtype` lives in the MicroPython FS. */
export function blobPath(dtype) {
  return "/models/policy_" + dtype + ".bin";
}

/** loadMicroPython (the npm package's export) + installDevice. `log(line)` gets MicroPython's stdout/stderr. */
export async function bootMicroPython(loadMicroPython, read, log = () => {}) {
  const mp = await loadMicroPython({ stdout: log, stderr: log });
  await installDevice(mp, read);
  return mp;
}

/** '' when `dtype`'s blob loads in this MicroPython, else the reason (one line, from the Python exception). */
export function dtypeProblem(mp, dtype) {
  try {
    mp.pyimport("websim").Sim(blobPath(dtype), 20, 0.0);
    return "";
  } catch (err) {
    const msg = String(err.message || err).trim().split("\n").pop();
    return msg;
  }
}
