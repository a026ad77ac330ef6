import { readFileSync } from "node:fs";

const p = JSON.parse(readFileSync(process.argv[2], "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
const self = new Map();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
	const n = byId.get(p.samples[i]);
	const d = p.timeDeltas[i] ?? 0;
	total += d;
	self.set(n, (self.get(n) ?? 0) + d);
}
const incl = new Map();
for (const [n, t] of self) {
	const seen = new Set();
	let cur = n;
	while (cur) {
		const k = `${cur.callFrame.functionName || "(anon)"} ${cur.callFrame.url.split("/").slice(-2).join("/")}:${cur.callFrame.lineNumber}`;
		if (!seen.has(k)) {
			seen.add(k);
			incl.set(k, (incl.get(k) ?? 0) + t);
		}
		cur = parent.get(cur.id);
	}
}
const re = new RegExp(process.argv[3] ?? ".");
for (const [k, t] of [...incl]
	.sort((a, b) => b[1] - a[1])
	.filter(([k]) => re.test(k))
	.slice(0, 40))
	console.log(((100 * t) / total).toFixed(1).padStart(5), k);
