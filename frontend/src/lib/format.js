// Number formatting shared by every view: numbers are shown as the store holds them, rounded for reading.

/** A measured value, with a fixed number of decimals (as the CLI prints it). */
export function num(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  return x.toFixed(digits);
}

/** A count: an integer with thousands separators. */
export function count(x) {
  if (x === null || x === undefined) return "–";
  return Math.round(x).toLocaleString("en-US");
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined) return "–";
  return `${(100 * x).toFixed(digits)}%`;
}

export function signedPct(x, digits = 1) {
  if (x === null || x === undefined) return "–";
  return `${x >= 0 ? "+" : ""}${(100 * x).toFixed(digits)}%`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Evenly spaced "nice" ticks covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

/** A linear scale [d0, d1] -> [r0, r1]. */
export function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

export function extent(values, pad = 0) {
  const finite = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** A formatter for a list of ticks: as many decimals as their spacing needs. */
export function tickFormat(ts) {
  const step = ts.length > 1 ? Math.abs(ts[1] - ts[0]) : Math.abs(ts[0] || 1);
  const digits = step > 0 ? Math.max(0, Math.min(6, Math.ceil(-Math.log10(step) + 1e-9) + (step.toPrecision(2).includes("5") ? 1 : 0))) : 2;
  return (t) => t.toFixed(digits);
}

/** A setting such as a strength: as few decimals as it has (2, 0.45). */
export function short(x) {
  if (x === null || x === undefined) return "–";
  return String(Number(Number(x).toFixed(4)));
}

/** An edge score: four decimals, or three significant digits when it is tiny. */
export function score(x) {
  if (x === null || x === undefined) return "–";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? x.toExponential(2) : x.toFixed(4);
}
