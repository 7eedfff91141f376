// The images the test cluster runs, built on this machine:
// - pause, from Kubernetes' own pause.c, under the exact name containerd pins;
// - CoreDNS, the binary built from the module proxy;
// - the gateway, the same content cluster-images/gateway/Dockerfile describes:
//   the Node runtime, iputils ping, and /app with package.json, the
//   production node_modules (`npm ci --omit=dev --omit=optional
//   --ignore-scripts`) and src/ minus what the .dockerignore excludes;
// - the demo workloads (hello, echo, db): the Node runtime running the
//   sandbox's demo servers (src/sandbox/images), with busybox-static, curl and
//   getent so tests can `kubectl exec` into them;
// - the side-by-side bench's pod (built and imported by the bench only): the
//   demo image's content plus iperf3, sockperf and PostgreSQL's server.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GATEWAY_IMAGE_REPO } from '../../src/cluster/gateway-manifests.ts';
import { IMAGE_REPO } from '../../src/sandbox/images.ts';
import { VERSION } from '../../src/version.ts';
import { addBase, addBusybox, addProgram, copyInto, type ImageSpec } from './images.ts';

/** ROOT is the checkout. */
export const ROOT = join(import.meta.dirname, '../..');
const DOCKERFILE_DIR = join(ROOT, 'cluster-images/gateway');

/** DEMO_TAG is the tag of the demo images (devnet's version: explicit, never `latest`). */
export const DEMO_TAG = VERSION;
/** demoImage names a demo image. */
export const demoImage = (name: 'hello' | 'echo' | 'db') => `${IMAGE_REPO}/demo-${name}:${DEMO_TAG}`;
/** gatewayImage is the gateway image devnet installs by default. */
export const gatewayImage = () => `${GATEWAY_IMAGE_REPO}:${VERSION}`;
/** COREDNS_IMAGE names CoreDNS as kubeadm does. */
export const corednsImage = (version: string) => `registry.k8s.io/coredns/coredns:${version}`;
/** pauseImage is the name containerd pins for the sandbox image. */
export const pauseImage = (version: string) => `registry.k8s.io/pause:${version}`;

/** nodeRuntime is the Node binary `npm ci` installed from the npm registry. */
export function nodeRuntime(): string {
  const p = join(ROOT, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
  if (!existsSync(p)) throw new Error(`no Node runtime at ${p}: run npm ci first`);
  return p;
}

/** globToRegExp turns a .dockerignore pattern into a regular expression over slash paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** dockerIgnored reads the Dockerfile's .dockerignore and answers whether a context path is excluded (last match wins, `!` re-includes). */
export function dockerIgnored(): (path: string) => boolean {
  const rules = readFileSync(join(DOCKERFILE_DIR, 'Dockerfile.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) =>
      l.startsWith('!') ? { keep: true, re: globToRegExp(l.slice(1)) } : { keep: false, re: globToRegExp(l) },
    );
  return (path) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.keep;
    return ignored;
  };
}

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, base));
    else out.push(relative(base, p));
  }
  return out;
}

/** gatewaySourceFiles lists the checkout files the Dockerfile copies into /app (COPY package.json ./, COPY src ./src), after the .dockerignore. */
export function gatewaySourceFiles(): string[] {
  const ignored = dockerIgnored();
  return ['package.json', ...walk(join(ROOT, 'src')).map((f) => `src/${f}`)].filter((f) => !ignored(f)).sort();
}

/** productionDeps installs the gateway's production node_modules as the Dockerfile's deps stage does, cached by package-lock.json. */
export function productionDeps(cache: string): string {
  const lock = readFileSync(join(ROOT, 'package-lock.json'));
  const key = createHash('sha256')
    .update(lock)
    .update(readFileSync(join(ROOT, 'package.json')))
    .digest('hex');
  const dir = join(cache, 'gateway-deps', key.slice(0, 16));
  if (!existsSync(join(dir, '.done'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
    execFileSync(
      'npm',
      ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    cpSync(join(dir, 'package.json'), join(dir, '.done'));
  }
  return join(dir, 'node_modules');
}

function addNode(rootfs: string): void {
  addProgram(rootfs, nodeRuntime(), '/usr/local/bin/node');
  for (const lib of execFileSync('ldd', [nodeRuntime()], { encoding: 'utf8' }).matchAll(/=>\s+(\/\S+)/g)) {
    if (lib[1] && !existsSync(join(rootfs, lib[1]))) copyInto(rootfs, lib[1]);
  }
}

const PATH_ENV = 'PATH=/usr/local/bin:/usr/bin:/bin';

/** fillDemo lays out the demo images' root filesystem: busybox, the Node runtime, curl, getent and the demo servers in /app. */
function fillDemo(r: string): void {
  addBase(r, { 65532: 'nonroot' });
  addBusybox(r);
  addNode(r);
  addProgram(r, '/usr/bin/curl');
  addProgram(r, '/usr/bin/getent');
  for (const lib of ['libnss_files.so.2', 'libnss_dns.so.2', 'libresolv.so.2']) {
    const p = `/lib/${process.arch === 'x64' ? 'x86_64' : 'aarch64'}-linux-gnu/${lib}`;
    if (existsSync(p)) copyInto(r, p);
  }
  const demos = join(ROOT, 'src/sandbox/images');
  for (const f of readdirSync(demos)) {
    if (f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(demos, f)).isFile()) {
      copyInto(r, join(demos, f), `/app/${f}`);
    }
  }
}

/** benchImage names the side-by-side bench's pod image (explicit tag, never `latest`). */
export const benchImage = () => `${IMAGE_REPO}/bench:${DEMO_TAG}`;

/** POSTGRES is Debian's PostgreSQL server (package postgresql-15), which the bench's pgbench figures drive. */
export const POSTGRES = {
  bin: '/usr/lib/postgresql/15/bin',
  lib: '/usr/lib/postgresql/15/lib',
  share: '/usr/share/postgresql/15',
};

/**
 * addPostgres copies Debian's PostgreSQL server into an image: postgres and
 * initdb with their libraries, the modules initdb loads (plpgsql, the
 * snowball dictionaries, encoding conversions: every .so but the LLVM JIT,
 * which the bench turns off), the share directory, the UTC zone, and busybox's
 * `su` (the server refuses to run as root; the bench starts it as nobody).
 */
function addPostgres(r: string): void {
  for (const p of ['postgres', 'initdb', 'pg_ctl']) addProgram(r, join(POSTGRES.bin, p));
  for (const f of readdirSync(POSTGRES.lib)) {
    if (f.endsWith('.so') && f !== 'llvmjit.so') addProgram(r, join(POSTGRES.lib, f));
  }
  cpSync(POSTGRES.share, join(r, POSTGRES.share), { recursive: true, dereference: true });
  for (const z of ['UTC', 'Etc/UTC']) copyInto(r, join('/usr/share/zoneinfo', z));
  if (!existsSync(join(r, 'bin/su'))) symlinkSync('busybox', join(r, 'bin/su'));
}

/**
 * benchImageSpec is the benchmark pod's image, built on demand by `npm run
 * bench -- --cluster k8s` (not by `up`): the demo image's content, whose
 * entry point runs the demo echo server (RFC 862, TCP and UDP port 7: the
 * same program the sandbox's bench pod runs), plus Debian's iperf3 and
 * sockperf with their libraries, and Debian's PostgreSQL server (addPostgres);
 * the bench starts those with `kubectl exec`.
 */
export function benchImageSpec(): ImageSpec {
  return {
    key: 'bench',
    fill: (r) => {
      fillDemo(r);
      addProgram(r, '/usr/bin/iperf3');
      addProgram(r, '/usr/bin/sockperf');
      addPostgres(r);
    },
    variants: [
      {
        names: [benchImage()],
        config: { Entrypoint: ['node', '/app/main.ts', 'echo'], Env: [PATH_ENV], WorkingDir: '/app' },
      },
    ],
  };
}

/** imageSpecs returns every image the cluster needs; bin is the build cache's bin dir, cache its root. */
export function imageSpecs(
  bin: string,
  cache: string,
  versions: { pause: string; coredns: string; gatewayNames: string[] },
): ImageSpec[] {
  return [
    {
      key: 'pause',
      fill: (r) => copyInto(r, join(bin, 'pause'), '/pause'),
      variants: [{ names: [pauseImage(versions.pause)], config: { Entrypoint: ['/pause'], User: '65535:65535' } }],
    },
    {
      key: 'coredns',
      fill: (r) => {
        addBase(r, { 65532: 'nonroot' });
        copyInto(r, join(bin, 'coredns'), '/coredns');
      },
      variants: [
        { names: [corednsImage(versions.coredns)], config: { Entrypoint: ['/coredns'], User: '65532:65532' } },
      ],
    },
    {
      key: 'gateway',
      fill: (r) => {
        addBase(r, { 65532: 'nonroot' });
        addNode(r);
        addProgram(r, '/usr/bin/ping');
        cpSync(productionDeps(cache), join(r, 'app/node_modules'), { recursive: true });
        for (const f of gatewaySourceFiles()) copyInto(r, join(ROOT, f), `/app/${f}`);
      },
      variants: [
        {
          names: versions.gatewayNames,
          config: {
            Entrypoint: ['node', 'src/gateway/main.ts'],
            Cmd: ['--listen', '127.0.0.1:8300', '--health-listen', '0.0.0.0:8301'],
            Env: [PATH_ENV, 'NODE_ENV=production'],
            User: '65532:65532',
            WorkingDir: '/app',
          },
        },
      ],
    },
    {
      key: 'demo',
      fill: fillDemo,
      variants: (['hello', 'echo', 'db'] as const).map((demo) => ({
        names: [demoImage(demo)],
        config: { Entrypoint: ['node', '/app/main.ts', demo], Env: [PATH_ENV], WorkingDir: '/app' },
      })),
    },
  ];
}
