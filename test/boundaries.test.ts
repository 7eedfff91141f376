// Architecture rules that can be checked are checks (STYLE.md lesson 10):
// - src/wire and src/netstack are pure: no Node I/O module, no timers, no logging;
// - nothing outside src/sandbox and test/ imports src/sandbox;
// - process.platform is consulted only in platform files (*.linux.ts, *.darwin.ts, index.ts choosers).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import test from 'ava';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|js|mjs)$/.test(e)) out.push(p);
  }
  return out;
}

function imports(source: string): string[] {
  const re =
    /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  const out: string[] = [];
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3]) as string);
  return out;
}

const PURE_DIRS = ['src/wire', 'src/netstack'];
const FORBIDDEN_IN_PURE =
  /^(node:)?(fs|fs\/promises|net|dgram|dns|http|https|http2|tls|child_process|cluster|worker_threads|os|timers|timers\/promises|readline|process|perf_hooks)$/;

test('src/wire and src/netstack import no Node I/O module and use no timers or console', (t) => {
  const offenders: string[] = [];
  for (const dir of PURE_DIRS) {
    for (const f of files(join(root, dir))) {
      if (f.endsWith('.test.ts')) continue;
      const src = readFileSync(f, 'utf8');
      for (const spec of imports(src)) {
        if (FORBIDDEN_IN_PURE.test(spec)) offenders.push(`${relative(root, f)} imports ${spec}`);
        if (!spec.startsWith('.') && !spec.startsWith('node:buffer') && spec !== 'ip-num') {
          if (!FORBIDDEN_IN_PURE.test(spec)) offenders.push(`${relative(root, f)} imports package ${spec}`);
        }
        if (spec.startsWith('.') && !resolve(join(f, '..'), spec).startsWith(join(root, 'src'))) {
          offenders.push(`${relative(root, f)} imports ${spec} from outside src/`);
        }
      }
      const code = src.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      if (/\b(setTimeout|setInterval|setImmediate|console\.|Date\.now|performance\.now|process\.)/.test(code)) {
        offenders.push(`${relative(root, f)} uses a clock, timer, console or process`);
      }
    }
  }
  t.deepEqual(offenders, []);
});

test('pure folders only import each other, never the I/O components', (t) => {
  const offenders: string[] = [];
  for (const dir of PURE_DIRS) {
    for (const f of files(join(root, dir))) {
      for (const spec of imports(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = relative(join(root, 'src'), resolve(join(f, '..'), spec));
        const top = target.split('/')[0];
        if (top && !['wire', 'netstack', 'errors.ts'].includes(top))
          offenders.push(`${relative(root, f)} imports ${spec}`);
      }
    }
  }
  t.deepEqual(offenders, []);
});

test('nothing outside src/sandbox and test/ imports src/sandbox', (t) => {
  const offenders: string[] = [];
  for (const f of [...files(join(root, 'src')), ...files(join(root, 'bench'))]) {
    const rel = relative(root, f);
    if (rel.startsWith('src/sandbox/') || rel.startsWith('src/cli/sandbox')) continue;
    for (const spec of imports(readFileSync(f, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(join(f, '..'), spec));
      if (target.startsWith('src/sandbox')) offenders.push(`${rel} imports ${spec}`);
    }
  }
  t.deepEqual(offenders, []);
});

test('process.platform is consulted only in platform files', (t) => {
  const offenders: string[] = [];
  for (const f of files(join(root, 'src'))) {
    const base = f.split('/').pop() as string;
    if (/\.(linux|darwin|default|windows)\.ts$/.test(base) || base === 'index.ts' || base.endsWith('.test.ts'))
      continue;
    if (/process\.platform/.test(readFileSync(f, 'utf8'))) offenders.push(relative(root, f));
  }
  t.deepEqual(offenders, []);
});

// The tunnel takes time and timers from the Clock it is given (src/tunnel/clock.ts),
// so its credit, drain, heartbeat and timeout logic runs on a FakeClock in tests.
const TUNNEL_CLOCK_FILES = new Set(['src/tunnel/clock.ts', 'src/tunnel/fake-clock.ts', 'src/tunnel/memory-carrier.ts']);

test('src/tunnel reads no global clock and arms no global timer outside its clocks', (t) => {
  const offenders: string[] = [];
  for (const f of files(join(root, 'src/tunnel'))) {
    const rel = relative(root, f);
    if (f.endsWith('.test.ts') || TUNNEL_CLOCK_FILES.has(rel)) continue;
    const code = readFileSync(f, 'utf8')
      .replace(/\/\/.*$/gm, '')
      .replace(/\/\*[\s\S]*?\*\//g, '');
    if (/(?<![.#\w])(setTimeout|setInterval|setImmediate)\(|Date\.now|performance\.now/.test(code))
      offenders.push(`${rel} uses a global clock or timer`);
  }
  t.deepEqual(offenders, []);
});
