// Where a V8 CPU profile's time goes (`node --cpu-prof` output, e.g. from
// `npm run bench -- --cpu-prof DIR`): self time by function and by source
// file, as shares of the samples, and the time under chosen frames.
// Usage: node bench/profile-top.ts FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file = '', topArg = '25'] = process.argv.slice(2);
const top = Number(topArg);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
let total = 0;
for (const [i, id] of p.samples.entries()) {
  const dt = p.timeDeltas[i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
}
const short = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/(src|node_modules|bench)\//, '$1/');
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
const pct = (us: number) => `${((100 * us) / total).toFixed(1)}%`;

const fn = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id) as Node;
  fn.set(label(n), (fn.get(label(n)) ?? 0) + us);
  const f = n.callFrame.url ? short(n.callFrame.url) : `(${n.callFrame.functionName || 'native'})`;
  byFile.set(f, (byFile.get(f) ?? 0) + us);
}
// Inclusive time of every frame label: a sample counts once per distinct label on its stack.
const incl = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as Node);
    if (!seen.has(l)) {
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(us).padStart(6)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
show('self time by function', fn);
show('self time by file', byFile);
show('inclusive time by function', incl);
