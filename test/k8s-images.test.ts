// The gateway image built here carries what cluster-images/gateway/Dockerfile
// describes: the test reads the Dockerfile's final stage (its COPY lines) and
// .dockerignore, works out the /app file list a `docker build` would produce
// from this checkout, and compares it with the layer of the image that
// test/k8s builds and imports (there is no Docker engine here to build it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import test from 'ava';
import { benchImage, benchImageSpec, dockerIgnored, imageSpecs, productionDeps, ROOT } from './k8s/cluster-images.ts';
import { buildImage, listLayerFiles } from './k8s/images.ts';

const DOCKERFILE = join(ROOT, 'cluster-images/gateway/Dockerfile');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** finalStageCopies returns the final stage's COPY lines as [source, destination, from-stage]. */
function finalStageCopies(): [string, string, string | undefined][] {
  const lines = readFileSync(DOCKERFILE, 'utf8').split('\n');
  const lastFrom = lines
    .map((l, i) => (/^FROM\s/i.test(l) ? i : -1))
    .filter((i) => i >= 0)
    .pop() as number;
  return lines
    .slice(lastFrom)
    .map((l) => /^COPY\s+(?:--from=(\S+)\s+)?(\S+)\s+(\S+)\s*$/i.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[2] as string, m[3] as string, m[1]]);
}

test('the gateway image holds exactly the /app files the Dockerfile describes', (t) => {
  const copies = finalStageCopies();
  t.deepEqual(
    copies.map(([src, , from]) => (from ? `${from}:${src}` : src)),
    ['deps:/app/node_modules', 'package.json', 'src'],
    'the Dockerfile copies node_modules from its deps stage, package.json and src',
  );
  const ignored = dockerIgnored();
  const expected: string[] = [];
  for (const [src, dest, from] of copies) {
    if (from) continue;
    const destDir = `app/${dest.replace(/^\.\/?/, '')}`.replace(/\/$/, '');
    const isDir = statSync(join(ROOT, src)).isDirectory();
    const files = isDir ? walk(join(ROOT, src)).map((f) => relative(ROOT, f)) : [src];
    for (const f of files.filter((f) => !ignored(f))) {
      expected.push(isDir ? `${destDir}/${relative(src, f)}` : `${destDir}/${basename(f)}`);
    }
  }
  // The deps stage: npm ci --omit=dev --omit=optional --ignore-scripts of this package-lock.
  const cache = mkdtempSync(join(tmpdir(), 'devnet-img-'));
  const archive = join(cache, 'gateway.tar');
  try {
    const deps = productionDeps(join(tmpdir(), 'devnet-k8s-image-test-cache'));
    for (const f of walk(deps)) expected.push(`app/node_modules/${relative(deps, f)}`);
    const spec = imageSpecs('/nonexistent', join(tmpdir(), 'devnet-k8s-image-test-cache'), {
      pause: 'x',
      coredns: 'x',
      gatewayNames: ['test.invalid/gateway:x'],
    }).find((s) => s.key === 'gateway');
    if (!spec) throw new Error('no gateway image spec');
    buildImage(spec, archive);
    const app = listLayerFiles(archive).filter((f) => f.startsWith('app/'));
    t.deepEqual(app.sort(), expected.sort());
    // What the .dockerignore is for, said plainly.
    t.true(app.includes('app/src/gateway/main.ts'));
    t.false(
      app.some(
        (f) =>
          (f.startsWith('app/src/') && f.endsWith('.test.ts')) ||
          f.startsWith('app/src/sandbox/') ||
          f.startsWith('app/src/cli/'),
      ),
    );
    t.false(app.some((f) => f.startsWith('app/node_modules/typescript/') || f.startsWith('app/node_modules/ava/')));
    t.regex(execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }), /index\.json/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('the bench image carries iperf3, sockperf, PostgreSQL, busybox and the demo echo server, each program with its libraries', (t) => {
  const spec = benchImageSpec();
  t.deepEqual(
    spec.variants.map((v) => v.names),
    [[benchImage()]],
  );
  t.regex(benchImage(), /^ghcr\.io\/devnet-dev\/bench:\d+\.\d+\.\d+$/, 'an explicit tag, never latest');
  t.deepEqual(spec.variants[0]?.config.Entrypoint, ['node', '/app/main.ts', 'echo']);
  const dir = mkdtempSync(join(tmpdir(), 'devnet-img-'));
  try {
    const archive = join(dir, 'bench.tar');
    buildImage(spec, archive);
    const files = new Set(listLayerFiles(archive));
    for (const f of ['usr/bin/iperf3', 'usr/bin/sockperf', 'bin/busybox', 'bin/sh', 'bin/nc', 'usr/local/bin/node']) {
      t.true(files.has(f), `${f} in the image`);
    }
    for (const f of ['app/main.ts', 'app/echo.ts', 'app/hello.ts', 'app/program.ts']) t.true(files.has(f), f);
    // Every library ldd names for the programs is in the layer, at the same path.
    // PostgreSQL's server, what initdb needs beside it, and su to start it as nobody.
    for (const f of [
      'usr/lib/postgresql/15/bin/postgres',
      'usr/lib/postgresql/15/bin/initdb',
      'usr/lib/postgresql/15/bin/pg_ctl',
      'usr/lib/postgresql/15/lib/plpgsql.so',
      'usr/lib/postgresql/15/lib/dict_snowball.so',
      'usr/share/postgresql/15/postgres.bki',
      'usr/share/zoneinfo/UTC',
      'bin/su',
    ]) {
      t.true(files.has(f), `${f} in the image`);
    }
    t.false(files.has('usr/lib/postgresql/15/lib/llvmjit.so'), 'the JIT (and LLVM) left out');
    const needed = execFileSync(
      'ldd',
      ['/usr/bin/iperf3', '/usr/bin/sockperf', '/usr/lib/postgresql/15/bin/postgres'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .map((l) => /=>\s+\/(\S+)/.exec(l)?.[1])
      .filter((l): l is string => l !== undefined);
    t.true(needed.length > 3);
    for (const lib of needed) t.true(files.has(lib), `${lib} in the image`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
