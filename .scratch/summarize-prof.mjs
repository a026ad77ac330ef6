import { readFileSync } from "node:fs";
const profile = JSON.parse(readFileSync(process.argv[2], "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas; let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]); const d = dt[i] ?? 0; total += d;
  const f = node.callFrame; const key = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + d);
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 40));
for (const [k, v] of rows) console.log((100 * v / total).toFixed(1).padStart(5), k);
// inclusive by function name of interest
const parents = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
const incl = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  let id = profile.samples[i]; const seen = new Set(); const d = dt[i] ?? 0;
  while (id !== undefined) { const f = byId.get(id).callFrame; const key = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-1)[0]}:${f.lineNumber}`; if (!seen.has(key)) { seen.add(key); incl.set(key, (incl.get(key) ?? 0) + d); } id = parents.get(id); }
}
console.log("--- inclusive");
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 60))) if (!k.startsWith("(anon) :") ) console.log((100 * v / total).toFixed(1).padStart(5), k);
