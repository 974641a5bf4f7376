// web: MicroPython WebAssembly (the npm package the page uses) as a tested target beside the unix port.
// Boots it in Node with the device package exactly as the page does (web/mpload.mjs), then
//  - runs the device golden-vector tests (tests/device/test_golden.py, the same file the unix port runs) there:
//    int8 (w8a8, w8a16) and Q15 bit-exact on the portable integer kernel, f32 within the manifest's tolerance;
//  - replays the zoo's CartPole-v1 golden vectors (models/zoo/cartpole/golden) through the same device tests:
//    the actions (argmax index) of int8 w8a16 / w8a8 and Q15 bit-exact, every layer too, f32's within tolerance;
//  - checks the page's simulations (web/py/websim.py): the pendulum swings up with every dtype, and the zoo
//    policy keeps CartPole-v1 (tinypolicy_app/cartpole.py) balanced for a full 500-step episode.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

import { blobPath, DTYPES, installDevice, newSim, writeFile } from "../mpload.mjs";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = async (p) => new Uint8Array(fs.readFileSync(path.join(ROOT, p)));
const DEVICE_TEST = "tests/device/test_golden.py";
const HEAP = 1024 * 1024;  // as tests/device/test_golden.py asks (# heapsize: 1M): the 256-wide nets need it

/** Every file under `dir` (relative to ROOT), recursively. */
function walk(dir) {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

/** MicroPython with the device package, the device tests and their data. */
async function boot() {
  const out = [];
  const mp = await loadMicroPython({ heapsize: HEAP, stdout: (l) => out.push(l), stderr: (l) => out.push(l) });
  await installDevice(mp, read);
  // the device tests open their data relative to the repository root, as on the unix port (cwd = /)
  for (const f of [...walk("models"), ...walk("tests/data/golden")]) writeFile(mp.FS, "/" + f, await read(f));
  for (const f of walk("tests/device").filter((f) => f.endsWith(".py"))) {
    writeFile(mp.FS, "/lib/" + path.basename(f), await read(f));
  }
  return { mp, out };
}

const booted = boot();  // one instance per process: the npm module keeps its state in globalThis
const names = [...fs.readFileSync(path.join(ROOT, DEVICE_TEST), "utf8").matchAll(/^def (test_\w+)\(/gm)]
  .map((m) => m[1]);

test("the webassembly port is 1.27.0, has no native emitter, and int8 / Q15 pick the portable kernel", async () => {
  const { mp, out } = await booted;
  mp.runPython(`
import sys
from tinypolicy import Policy
print(sys.implementation.name, '.'.join(str(v) for v in sys.implementation.version[:3]))
try:
    Policy.load('models/policy_int8.bin', kernel='viper')
    print('viper loaded')
except ValueError as e:
    print('ValueError:', e)
print(' '.join(Policy.load('models/policy_%s.bin' % d).kernel for d in ('f32', 'int8', 'int8_a8', 'q15')))
`);
  const [version, viper, kernels] = out.splice(-3);
  assert.equal(version, "micropython 1.27.0");
  assert.match(viper, /^ValueError: kernel 'viper': /, "forcing the viper kernel must fail on this port");
  assert.equal(kernels, "float portable portable portable");
});

// the simulation first: after the replay the heap is full of garbage and every GC is slower
for (const dtype of DTYPES) {
  test(`websim: the shipped ${dtype} policy swings the pendulum up from hanging down, recovers from a push`,
    async () => {
      const { mp } = await booted;
      const sim = mp.pyimport("websim").Sim(blobPath(dtype), 10, Math.PI, 0.0, 1);
      assert.equal(sim.kernel, dtype === "f32" ? "float" : "portable");
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
}

const CART_EPISODE = 500;  // CartPole-v1's episode length (gymnasium truncates there)
for (const dtype of DTYPES) {
  test(`websim: the zoo ${dtype} policy keeps CartPole-v1 balanced for ${CART_EPISODE} steps`, async (t) => {
    const { mp } = await booted;
    const sim = newSim(mp, "cartpole", dtype, { theta0: 0.05 });
    assert.equal(sim.kernel, dtype === "f32" ? "float" : "portable");
    let maxTheta = 0, maxX = 0;
    const actions = [0, 0];
    for (let i = 0; i < CART_EPISODE; i++) {
      sim.tick();
      assert.equal(sim.terminated, "", `${dtype}: fell at step ${sim.steps} (x ${sim.x}, theta ${sim.theta})`);
      actions[sim.action]++;
      maxTheta = Math.max(maxTheta, Math.abs(sim.theta));
      maxX = Math.max(maxX, Math.abs(sim.x));
    }
    assert.equal(sim.steps, CART_EPISODE);
    assert.ok(actions[0] > 50 && actions[1] > 50, `it must push both ways: ${actions}`);
    t.diagnostic(`${dtype}: ${sim.steps} steps balanced, max |theta| ${maxTheta.toFixed(4)} rad, max |x| ` +
      `${maxX.toFixed(3)} m, actions left/right ${actions}, ${(sim.infer_us_sum / sim.ticks).toFixed(0)} us/infer`);
    sim.push(0.5);  // the page's push: an impulse on the pole; it recovers
    for (let i = 0; i < 200; i++) sim.tick();
    assert.equal(sim.terminated, "", `${dtype}: fell after the push (x ${sim.x}, theta ${sim.theta})`);
  });
}

test("websim: CartPole-v1 falls without a policy that balances it, and then stops", async () => {
  const { mp } = await booted;
  const sim = newSim(mp, "cartpole", "int8", { theta0: 0.1 });
  sim.push(3.0);  // far beyond what 10 N can catch within 12 degrees
  for (let i = 0; i < 100 && !sim.terminated; i++) sim.tick();
  assert.equal(sim.terminated, "theta");
  const steps = sim.steps;
  sim.tick(); sim.hold();
  assert.equal(sim.steps, steps, "a fallen episode must not move on");
});

// The zoo's CartPole-v1 golden vectors, through the device golden tests with the zoo's metadata as manifest
const ZOO_CARTPOLE = "models/zoo/cartpole";
const zooGolden = JSON.parse(fs.readFileSync(path.join(ROOT, ZOO_CARTPOLE, "metadata.json"), "utf8")).golden.blobs;
const csvRows = (rel) => fs.readFileSync(path.join(ROOT, ZOO_CARTPOLE, rel), "utf8").trim().split("\n").length - 1;
for (const name of names) {
  test(`device test_golden.${name} on the zoo's CartPole-v1 [webassembly, portable kernel]`, async (t) => {
    const { mp } = await booted;
    mp.runPython(`import golden, test_golden as _t
_t.KERNELS = ('portable',)
_t.entries = lambda dtype=None: golden.zoo_entries('${ZOO_CARTPOLE}', dtype)
try:
    _t.${name}()
finally:
    _t.entries = golden.entries`);
    const files = zooGolden.map((e) => `${e.scheme} ${csvRows(e.golden)} rows` +
      (e.layers ? ` + ${csvRows(e.layers)} layer rows` : ""));
    t.diagnostic(`zoo cartpole golden files: ${files.join(", ")}`);
  });
}

assert.ok(names.length >= 3, `device tests found in ${DEVICE_TEST}: ${names}`);
for (const name of names) {
  test(`device test_golden.${name} [webassembly, portable kernel]`, async () => {
    const { mp } = await booted;
    // the unix port replays on both kernels; this port has only the portable one (no native emitter)
    mp.runPython(`import test_golden as _t\n_t.KERNELS = ('portable',)\n_t.${name}()`);
  });
}
