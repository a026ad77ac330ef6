import { readFileSync } from "node:fs";

const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas;
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
	const n = byId.get(p.samples[i]);
	const d = dt[i] ?? 0;
	total += d;
	self.set(n, (self.get(n) ?? 0) + d);
}
const agg = new Map();
for (const [n, t] of self) {
	const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-3).join("/")}:${n.callFrame.lineNumber}`;
	agg.set(k, (agg.get(k) ?? 0) + t);
}
const rows = [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 30));
for (const [k, t] of rows) console.log(((100 * t) / total).toFixed(1).padStart(5), k);
// inclusive by file
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
const incl = new Map();
for (const [n, t] of self) {
	const seen = new Set();
	let cur = n;
	while (cur) {
		const f = cur.callFrame.url.includes("node_modules")
			? cur.callFrame.url.split("node_modules/")[1].split("/")[0]
			: cur.callFrame.url.split("/").slice(-2).join("/");
		if (!seen.has(f)) {
			seen.add(f);
			incl.set(f, (incl.get(f) ?? 0) + t);
		}
		cur = parent.get(cur.id);
	}
}
console.log("--- inclusive by package/file");
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 25))
	console.log(((100 * t) / total).toFixed(1).padStart(5), k);
