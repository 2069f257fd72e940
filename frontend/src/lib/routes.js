// Hash routes of the app: #/runs, #/entry/KIND/NAME, #/circuit/NAME[?vs=OTHER], #/steering/NAME,
// #/comparison/NAME, #/data/MAP[?aug=AUGMENTATION], #/sweeps[/NAME], #/jobs.

const VIEW = { circuit: "circuit", steering: "steering", comparison: "comparison" };

/** The page that shows an entry best: its own view, or its files for a version. */
export function entryLink(kind, name) {
  const n = encodeURIComponent(name);
  return VIEW[kind] ? `#/${VIEW[kind]}/${n}` : `#/entry/${kind}/${n}`;
}

export const link = (route) => `#/${route}`;

export function parseHash(hash) {
  const raw = (hash || "").replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || "runs", args: parts.slice(1), query: new URLSearchParams(query) };
}
