// web: MicroPython WebAssembly (the npm package the page uses) as a tested target beside the unix port.
// Boots it in Node with the device package exactly as the page does (web/mpload.mjs), then
//  - runs the device golden-vector tests (tests/device/test_golden.py, the same file the unix port runs) there;
//  - checks the page's simulation (web/py/websim.py) swings the pendulum up.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

import { bootMicroPython, blobPath, writeFile } from "../mpload.mjs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = async (p) => new Uint8Array(fs.readFileSync(path.join(ROOT, p)));
const DEVICE_TEST = "tests/device/test_golden.py";
// Golden tests this runtime must pass. The int8 / Q15 kernels are viper today, which the webassembly port cannot
// compile: those tests run as `todo` until the portable integer path lands (issue 14), then this becomes /./.
const REQUIRED = /f32/;

/** Every file under `dir` (relative to ROOT), recursively. */
function walk(dir) {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

async function boot() {
  const out = [];
  const mp = await bootMicroPython(loadMicroPython, read, (line) => out.push(line));
  // the device tests open their data relative to the repository root, as on the unix port (cwd = /)
  for (const f of [...walk("models"), ...walk("tests/data/golden")]) writeFile(mp.FS, "/" + f, await read(f));
  for (const f of ["tests/device/devtest.py", DEVICE_TEST]) writeFile(mp.FS, "/lib/" + path.basename(f), await read(f));
  return { mp, out };
}

const booted = boot();
const names = [...fs.readFileSync(path.join(ROOT, DEVICE_TEST), "utf8").matchAll(/^def (test_\w+)\(/gm)]
  .map((m) => m[1]);

test("the webassembly port is the version the page and docs name", async () => {
  const { mp, out } = await booted;
  mp.runPython("import sys; print(sys.implementation.name, '.'.join(str(v) for v in sys.implementation.version[:3]))");
  assert.equal(out.pop(), "micropython 1.27.0");
});

for (const name of names) {
  const required = REQUIRED.test(name);
  test(`device ${path.basename(DEVICE_TEST, ".py")}.${name} [webassembly]`,
    { todo: required ? false : "int8/Q15 need the portable integer path (viper is not available here)" },
    async () => {
      const { mp } = await booted;
      mp.runPython(`import ${path.basename(DEVICE_TEST, ".py")} as _t\n_t.${name}()`);
    });
}

test("websim: the shipped f32 policy swings the pendulum up from hanging down (10 ms period)", async () => {
  const { mp } = await booted;
  const sim = mp.pyimport("websim").Sim(blobPath("f32"), 10, Math.PI, 0.0, 1);
  while (sim.t < 8.0) sim.tick();
  assert.ok(sim.upright_since >= 0 && sim.upright_since < 4.0, `upright_since ${sim.upright_since}`);
  assert.ok(Math.abs(sim.theta) < 0.1 && Math.abs(sim.torque) < 0.5, `theta ${sim.theta} torque ${sim.torque}`);
  assert.equal(sim.ticks, 800);
  sim.push(3.0);  // a push knocks it out of the upright band; it recovers
  for (let i = 0; i < 20; i++) sim.tick();
  assert.ok(sim.upright_since < 0 || sim.upright_since > 8.0, "the push did not move it");
  while (sim.t < 14.0) sim.tick();
  assert.ok(sim.upright_since >= 0 && Math.abs(sim.theta) < 0.1, `no recovery: theta ${sim.theta}`);
});
