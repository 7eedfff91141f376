// The gateway image, staged. A real cluster runs the gateway from an image
// that carries its own files (cluster-images/gateway/Dockerfile: Node, the
// package's production dependencies, the code without the CLI and the
// sandbox), readable by the unprivileged user it runs as. The sandbox makes
// the same thing on disk: a copy owned by root, directories 0755 and files
// 0644, in a folder every user can reach, so uid 65532 can run it wherever
// this devnet lives (a 0700 home, a `mktemp -d`, a path with spaces, a
// global npm prefix). The copy is made once per `sandbox up` and removed by
// `down` (journaled first).
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import type { SyncJournal } from '../journal/journal.ts';

/** ProgramSource is the devnet being run: its package root, its code folder (src/ in a checkout, dist/ in a package) and its Node. */
export interface ProgramSource {
  root: string;
  codeDir: string;
  /** ext is the code's file extension: .ts in a checkout, .js in a built package. */
  ext: string;
  node: string;
}

/** thisProgram describes the devnet this module belongs to. */
export function thisProgram(): ProgramSource {
  const codeDir = resolve(import.meta.dirname, '..');
  return { root: dirname(codeDir), codeDir, ext: extname(import.meta.filename), node: process.execPath };
}

/** StagedImage is a staged gateway image: where its Node and its gateway entry point are. */
export interface StagedImage {
  root: string;
  node: string;
  gatewayMain: string;
}

/** imageLayout names the files of an image staged at root from a source. */
export function imageLayout(root: string, source: ProgramSource): StagedImage {
  const code = join(root, 'app', relative(source.root, source.codeDir));
  return { root, node: join(root, 'bin', 'node'), gatewayMain: join(code, 'gateway', `main${source.ext}`) };
}

/** keepCode says whether a file of devnet's code tree belongs in the image (what the Dockerfile's .dockerignore keeps). */
export function keepCode(rel: string): boolean {
  const top = rel.split(sep)[0];
  if (top === 'sandbox' || top === 'cli') return false;
  return !/\.test\.ts(\.md|\.snap)?$|\.map$|\.d\.ts$/.test(rel);
}

/** SKIPPED_PACKAGE_DIRS are folders of a dependency that nothing loads at run time. */
const SKIPPED_PACKAGE_DIRS = new Set([
  'node_modules',
  'test',
  'tests',
  '__tests__',
  'docs',
  'example',
  'examples',
  'benchmarks',
]);

/** keepPackageFile says whether a file of a dependency is needed at run time (no tests, source maps, type declarations or docs). */
export function keepPackageFile(rel: string): boolean {
  return (
    !/\.(map|md|markdown)$|\.d\.[cm]?ts$|\.ts$/i.test(rel) && !rel.split(sep).some((d) => SKIPPED_PACKAGE_DIRS.has(d))
  );
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

async function readPackage(dir: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** findPackage resolves a package name from a folder as Node does: node_modules/NAME here or in an ancestor, up to root. */
async function findPackage(from: string, name: string, root: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if ((await readPackage(candidate)) !== undefined) return candidate;
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

/**
 * productionPackages lists the folders of the package's production
 * dependencies, transitively (what `npm ci --omit=dev --omit=optional` keeps:
 * the package's own optional dependencies, the Node binaries, are left out).
 */
export async function productionPackages(root: string): Promise<string[]> {
  const top = await readPackage(root);
  const found = new Set<string>();
  const queue: [string, string][] = Object.keys(top?.dependencies ?? {}).map((n) => [root, n]);
  while (queue.length > 0) {
    const [from, name] = queue.shift() as [string, string];
    const dir = await findPackage(from, name, root);
    if (!dir || found.has(dir)) continue; // an optional dependency not installed here
    found.add(dir);
    const pkg = await readPackage(dir);
    for (const n of Object.keys({ ...pkg?.dependencies, ...pkg?.optionalDependencies, ...pkg?.peerDependencies })) {
      queue.push([dir, n]);
    }
  }
  return [...found].sort();
}

/** copyTree copies the files keep() accepts, readable by everyone: directories 0755, files 0644 (0755 if executable). */
async function copyTree(from: string, to: string, keep: (rel: string) => boolean, rel = ''): Promise<void> {
  await mkdir(join(to, rel), { recursive: true, mode: 0o755 });
  await chmod(join(to, rel), 0o755);
  const entries = await readdir(join(from, rel), { withFileTypes: true });
  await Promise.all(
    entries.map(async (e) => {
      const r = join(rel, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && keep(join(r, 'x'))) await copyTree(from, to, keep, r);
        return;
      }
      if (!keep(r)) return;
      const src = join(from, r);
      const st = await stat(src).catch(() => undefined); // a dangling symlink is skipped
      if (!st?.isFile()) return;
      await copyFile(src, join(to, r), constants.COPYFILE_FICLONE);
      await chmod(join(to, r), st.mode & 0o111 ? 0o755 : 0o644);
    }),
  );
}

/**
 * stageImage makes the gateway image at root from source: Node as bin/node,
 * package.json, the code tree and the production dependencies under app/.
 * The folder is journaled before it is made; a previous copy is replaced.
 */
export async function stageImage(root: string, journal: SyncJournal, source: ProgramSource): Promise<StagedImage> {
  const image = imageLayout(root, source);
  // The store folder is shared by sandboxes: removed only when the last image in it is.
  journal.recordSync({ kind: 'emptydir', path: dirname(root) });
  journal.recordSync({ kind: 'path', path: root });
  await rm(root, { recursive: true, force: true });
  // Every folder above the image must be searchable by the pod's user, as /var/lib is: the folders made
  // here are opened whatever the umask (folders that already existed are left as they are).
  const made = await mkdir(dirname(root), { recursive: true, mode: 0o755 });
  for (let d = dirname(root); made && d.startsWith(made); d = dirname(d)) await chmod(d, 0o755);
  await mkdir(join(root, 'bin'), { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  await chmod(join(root, 'bin'), 0o755);
  const app = join(root, 'app');
  await mkdir(app, { mode: 0o755 });
  await chmod(app, 0o755);
  await copyFile(source.node, image.node);
  await chmod(image.node, 0o755);
  await copyFile(join(source.root, 'package.json'), join(app, 'package.json'));
  await chmod(join(app, 'package.json'), 0o644);
  const codeRel = relative(source.root, source.codeDir);
  await copyTree(source.codeDir, join(app, codeRel), keepCode);
  const packages = await productionPackages(source.root);
  await Promise.all(packages.map((dir) => copyTree(dir, join(app, relative(source.root, dir)), keepPackageFile)));
  // The folders between app/ and each package (node_modules, @scope) were made by mkdir -p: open them too.
  for (const dir of packages) {
    for (let d = dirname(join(app, relative(source.root, dir))); d.startsWith(app) && d !== app; d = dirname(d)) {
      await chmod(d, 0o755);
    }
  }
  return image;
}
