// web: canvas drawing of the pendulum and the live plots (no state of its own).

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

/** A time plot of `series` ({t: [], v: []}) over the last `span` s before `tEnd`, y in [lo, hi];
 *  `band` (optional) shades |v| < band (the upright band for the angle). */
export function drawPlot(canvas, series, tEnd, span, lo, hi, label, color, band) {
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
  g.fillText(label, L + 6, T + 12);
  g.strokeStyle = color; g.lineWidth = 1.6; g.beginPath();
  let pen = false, prev = 0;
  for (let i = 0; i < series.t.length; i++) {
    if (series.t[i] < tEnd - span) continue;
    const v = series.v[i];
    const wrapJump = pen && Math.abs(v - prev) > 0.5 * (hi - lo);  // angle wrapping at +-pi: lift the pen
    if (pen && !wrapJump) g.lineTo(px(series.t[i]), py(v)); else g.moveTo(px(series.t[i]), py(v));
    pen = true; prev = v;
  }
  g.stroke();
}
