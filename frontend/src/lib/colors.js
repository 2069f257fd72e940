// Colours of the data map: a categorical palette (clusters, metadata values) and a sequential one (scores).

export const CATEGORICAL = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79",
  "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
];
export const NONE = "#c4c4c4"; // unclustered, missing, "other"

// viridis, sampled at 9 stops
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"];

function hex(c) {
  return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
}

/** A colour for t in [0, 1] on the sequential scale. */
export function sequential(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return NONE;
  const u = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const [a, b] = [hex(VIRIDIS[i]), hex(VIRIDIS[i + 1])];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(",")})`;
}

export const GRADIENT = VIRIDIS;

/**
 * How to colour points by one field: categorical (at most 19 values, the rest "other") or, for numbers with
 * many values, continuous. Returns {kind, color(p), legend}.
 */
export function colouring(points, field, { labels = {} } = {}) {
  const values = points.map((p) => p[field]);
  const present = values.filter((v) => v !== null && v !== undefined && v !== "");
  const numeric = present.length > 0 && present.every((v) => typeof v === "number");
  const unique = [...new Set(present)];
  if (numeric && (unique.length > 12 || field === "score" || field === "nn_distance")) {
    const lo = Math.min(...present);
    const hi = Math.max(...present);
    const span = hi - lo || 1;
    return {
      kind: "continuous",
      lo,
      hi,
      color: (p) => (typeof p[field] === "number" ? sequential((p[field] - lo) / span) : NONE),
    };
  }
  const counts = new Map();
  for (const v of present) counts.set(v, (counts.get(v) || 0) + 1);
  let order = [...counts.keys()];
  if (field === "cluster") order.sort((a, b) => a - b);
  else order.sort((a, b) => counts.get(b) - counts.get(a) || String(a).localeCompare(String(b)));
  const named = order.filter((v) => !(field === "cluster" && v === -1));
  // every cluster gets a colour (the palette repeats past 19); other fields keep their 19 most frequent values
  const shown = field === "cluster" ? named : named.slice(0, CATEGORICAL.length);
  const colourOf = new Map(shown.map((v, i) => [v, CATEGORICAL[i % CATEGORICAL.length]]));
  const legend = shown.map((v) => ({ value: v, label: labels[v] ?? String(v), color: colourOf.get(v), count: counts.get(v) }));
  const rest = values.length - legend.reduce((s, l) => s + l.count, 0);
  if (rest > 0) {
    const label = field === "cluster" ? "unclustered" : named.length > shown.length ? "other" : "none";
    legend.push({ value: field === "cluster" ? -1 : null, label, color: NONE, count: rest });
  }
  return { kind: "categorical", legend, color: (p) => colourOf.get(p[field]) ?? NONE };
}
