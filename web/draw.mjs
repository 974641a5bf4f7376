// web: canvas drawing of the pendulum, the cart-pole and the live plots (no state of its own).

/** The pendulum: theta (rad, 0 = upright, counter-clockwise positive), torque (N*m) as an arc arrow. */
export function drawPendulum(canvas, theta, torque, maxTorque) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, cx = w / 2, cy = h / 2, len = 0.38 * w;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#ddd";
  g.setLineDash([4, 4]);
  g.beginPath(); g.moveTo(cx, cy); g.lineTo(cx, cy - len - 20); g.stroke();
  g.setLineDash([]);
  const x = cx - len * Math.sin(theta), y = cy - len * Math.cos(theta);
  g.strokeStyle = "#345"; g.lineWidth = 8; g.lineCap = "round";
  g.beginPath(); g.moveTo(cx, cy); g.lineTo(x, y); g.stroke();
  g.fillStyle = "#c33"; g.beginPath(); g.arc(x, y, 16, 0, 2 * Math.PI); g.fill();
  g.fillStyle = "#345"; g.beginPath(); g.arc(cx, cy, 6, 0, 2 * Math.PI); g.fill();
  const frac = Math.max(-1, Math.min(1, torque / maxTorque));  // torque arc: length and direction
  if (Math.abs(frac) > 0.01) {
    const r = 34, a0 = -Math.PI / 2, a1 = a0 - frac * 0.9 * Math.PI;
    g.strokeStyle = "#e80"; g.lineWidth = 4;
    g.beginPath(); g.arc(cx, cy, r, Math.min(a0, a1), Math.max(a0, a1)); g.stroke();
    const hx = cx + r * Math.cos(a1), hy = cy + r * Math.sin(a1), s = frac > 0 ? 1 : -1;
    g.fillStyle = "#e80"; g.beginPath();
    g.moveTo(hx + 7 * Math.cos(a1), hy + 7 * Math.sin(a1));
    g.lineTo(hx - 7 * Math.cos(a1), hy - 7 * Math.sin(a1));
    g.lineTo(hx - 10 * s * Math.sin(a1), hy + 10 * s * Math.cos(a1));
    g.fill();
  }
}

/** The cart-pole: cart at x (m) on a track with the limits at +-xLimit (m), pole of `poleM` (m) at theta (rad,
 *  0 = upright, positive = leaning right), the push (force, N, sign = direction) as an arrow on the cart;
 *  `fell` (a message, '' while balanced) is written over the drawing. */
export function drawCartPole(canvas, x, theta, force, xLimit, poleM, fell) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, scale = w / (2 * xLimit * 1.1), ty = 0.62 * h;
  const cx = w / 2 + x * scale, cw = 0.4 * scale, ch = 0.24 * scale;  // gymnasium's cart: 0.4 m x 0.24 m
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#999"; g.lineWidth = 2;
  g.beginPath(); g.moveTo(0, ty); g.lineTo(w, ty); g.stroke();
  g.strokeStyle = "#c33";
  for (const s of [-1, 1]) {  // the x limits
    const lx = w / 2 + s * xLimit * scale;
    g.beginPath(); g.moveTo(lx, ty - 12); g.lineTo(lx, ty + 12); g.stroke();
  }
  g.fillStyle = "#345"; g.fillRect(cx - cw / 2, ty - ch, cw, ch);
  const px = cx + poleM * scale * Math.sin(theta), py = ty - ch - poleM * scale * Math.cos(theta);
  g.strokeStyle = "#c96"; g.lineWidth = 6; g.lineCap = "round";
  g.beginPath(); g.moveTo(cx, ty - ch); g.lineTo(px, py); g.stroke();
  g.fillStyle = "#c33"; g.beginPath(); g.arc(cx, ty - ch, 4, 0, 2 * Math.PI); g.fill();
  if (force) {
    const s = Math.sign(force), ax = cx + s * (cw / 2 + 4), ay = ty - ch / 2;
    g.strokeStyle = g.fillStyle = "#e80"; g.lineWidth = 3;
    g.beginPath(); g.moveTo(ax, ay); g.lineTo(ax + s * 22, ay); g.stroke();
    g.beginPath(); g.moveTo(ax + s * 30, ay); g.lineTo(ax + s * 20, ay - 6); g.lineTo(ax + s * 20, ay + 6); g.fill();
  }
  if (fell) {
    g.fillStyle = "#b00"; g.font = "bold 16px sans-serif"; g.textAlign = "center";
    g.fillText(fell, w / 2, 0.2 * h);
    g.textAlign = "start";
  }
}

/** A time plot of `series` ({t: [], v: []}) over the last `span` s before `tEnd`, y in [lo, hi];
 *  `band` (optional) shades |v| < band (the upright band for the angle); `steps` (optional) draws a held
 *  (piecewise constant) signal, such as a bang-bang push, instead of an angle that wraps. */
export function drawPlot(canvas, series, tEnd, span, lo, hi, label, color, band, steps) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, L = 44, R = 18, T = 8, B = 22;
  const px = (t) => L + ((t - (tEnd - span)) / span) * (w - L - R);
  const py = (v) => T + ((hi - v) / (hi - lo)) * (h - T - B);
  g.clearRect(0, 0, w, h);
  if (band) { g.fillStyle = "#e6f4e6"; g.fillRect(L, py(band), w - L - R, py(-band) - py(band)); }
  g.strokeStyle = "#ccc"; g.lineWidth = 1; g.fillStyle = "#666"; g.font = "11px sans-serif";
  for (const v of [lo, 0, hi]) {
    g.beginPath(); g.moveTo(L, py(v)); g.lineTo(w - R, py(v)); g.stroke();
    g.fillText(v.toFixed(1), 4, py(v) + 4);
  }
  for (let s = Math.ceil(tEnd - span); s <= tEnd; s++) g.fillText(s + " s", px(s) - 8, h - 6);
  g.strokeStyle = color; g.lineWidth = 1.6; g.beginPath();
  let pen = false, prev = 0;
  for (let i = 0; i < series.t.length; i++) {
    if (series.t[i] < tEnd - span) continue;
    const v = series.v[i];
    if (steps && pen) g.lineTo(px(series.t[i]), py(prev));
    const wrapJump = !steps && pen && Math.abs(v - prev) > 0.5 * (hi - lo);  // angle wrapping at +-pi: lift the pen
    if (pen && !wrapJump) g.lineTo(px(series.t[i]), py(v)); else g.moveTo(px(series.t[i]), py(v));
    pen = true; prev = v;
  }
  g.stroke();
  g.fillStyle = "rgba(250, 250, 250, 0.85)";  // the label last, readable over a dense signal
  g.fillRect(L + 3, T + 1, g.measureText(label).width + 6, 15);
  g.fillStyle = "#666";
  g.fillText(label, L + 6, T + 12);
}
