// The test command: type-check, lint, then every test with ava. Before and
// after, it removes test network namespaces (dnt-<pid>-*) whose process is
// gone, so a test killed outright cannot leave the host changed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function sweepStaleNetns() {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^dnt-(\d+)-/.exec(name ?? '');
    if (m && !existsSync(`/proc/${m[1]}`)) {
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      console.error(`test: removed stale test namespace ${name}`);
    }
  }
}

function step(title, cmd, args) {
  console.log(`\n== ${title}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`== ${title} failed`);
    sweepStaleNetns();
    process.exit(r.status ?? 1);
  }
}

const only = process.argv.slice(2);
sweepStaleNetns();
if (only.length === 0) {
  step('type-check', process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    'tsconfig.json',
    '--noEmit',
  ]);
  step('lint', bin('biome'), ['check', '.']);
}
step('tests', process.execPath, [join(root, 'node_modules/ava/entrypoints/cli.js'), ...only]);
sweepStaleNetns();
