// The sandbox's gateway image is a staged copy its unprivileged user can
// run, wherever devnet itself lives: here the devnet being staged sits in a
// 0700 folder with a space in its path, as a clone under a private home
// or a `mktemp -d` does.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import type { UndoStep } from '../src/journal/journal.ts';
import { stageImage } from '../src/sandbox/image.ts';
import { rootTest } from './support/root.ts';
import { run } from './support/run.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-image-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function walk(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [join(d, e.name), ...walk(join(d, e.name))] : [join(d, e.name)],
  );
}

rootTest('the gateway image runs as uid 65532 although the devnet it came from is private', async (t) => {
  process.umask(0o077); // as a careful admin's root shell: nothing the image needs may depend on the umask
  // A private copy of this devnet: the code, package.json and the production dependencies it needs.
  chmodSync(dir, 0o755); // the image store's parent is searchable, as /var/lib is
  const home = join(dir, 'private home');
  mkdirSync(home, { mode: 0o700 });
  const checkout = join(home, 'dev net');
  mkdirSync(checkout, { mode: 0o700 });
  for (const p of ['package.json', 'src', 'node_modules']) {
    cpSync(join(root, p), join(checkout, p), {
      recursive: true,
      filter: (f) => !f.includes('node_modules/node-linux') && !f.includes('node_modules/@biomejs'),
    });
  }
  const images = join(dir, 'images');
  mkdirSync(images);
  chmodSync(images, 0o755);
  const steps: UndoStep[] = [];
  const journal = { recordSync: (s: UndoStep) => void steps.push(s) };
  const image = await stageImage(join(images, 'gw'), journal, {
    root: checkout,
    codeDir: join(checkout, 'src'),
    ext: '.ts',
    node: process.execPath,
  });
  t.deepEqual(
    steps,
    [
      { kind: 'emptydir', path: images },
      { kind: 'path', path: join(images, 'gw') },
    ],
    'journaled before it is made',
  );

  const files = walk(image.root).map((f) => relative(image.root, f));
  t.true(files.includes(join('app', 'src', 'gateway', 'main.ts')));
  t.true(files.includes(join('app', 'node_modules', '@kubernetes', 'client-node', 'package.json')));
  t.false(files.some((f) => f.startsWith(join('app', 'src', 'sandbox')) || f.startsWith(join('app', 'src', 'cli'))));
  t.false(files.some((f) => f.endsWith('.test.ts') || f.endsWith('.map') || f.includes('/test/')));
  t.false(
    files.some((f) => /node_modules\/(ava|typescript|@biomejs)\b/.test(f)),
    'no dev dependencies',
  );
  for (const f of walk(image.root)) {
    const mode = statSync(f).mode & 0o777;
    t.true(mode === 0o755 || mode === 0o644, `${f} is ${mode.toString(8)}`);
  }

  // As the gateway's user: every module loads (the config check that follows the imports exits 2).
  const r = await run('setpriv', [
    '--reuid=65532',
    '--regid=65532',
    '--clear-groups',
    image.node,
    image.gatewayMain,
    '--listen',
    '0.0.0.0:1',
  ]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /not a loopback address/);

  // The same program from the private checkout fails for that user: what the image is for.
  const direct = await run('setpriv', [
    '--reuid=65532',
    '--regid=65532',
    '--clear-groups',
    image.node,
    join(checkout, 'src/gateway/main.ts'),
  ]);
  t.not(direct.code, 2);
  t.regex(direct.stderr, /EACCES|permission denied|Cannot find module/i);
});
