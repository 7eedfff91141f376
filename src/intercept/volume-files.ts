// The API-backed volumes of an intercept's target pod, written under the
// laptop's DIR and kept current while the intercept lasts (the daemon runs
// this with the user's own credentials). Each volume directory is laid out
// like the kubelet's atomic writer: the files live in a generation directory
// `..<n>`, the symlink `..data` points at the current one and each top-level
// name is a symlink through `..data`, so a reader sees either the old or the
// new set, never a mix. Files and generation directories are written without
// write permission (read-only by default). ConfigMaps, Secrets and the pod
// (for the downward API) are watched; service account tokens are requested
// again at 80 % of their lifetime.
import { chmod, mkdir, readdir, readlink, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type CoreV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1Container,
  type V1Pod,
  type V1Secret,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound } from '../cluster/kube.ts';
import { type File, needsOf, renderVolume, selectSubPath, type VolumeMountPlan, volumeOf } from './volumes.ts';

/** VolumeFilesOptions say whose volumes to write where. */
export interface VolumeFilesOptions {
  kc: KubeConfig;
  core: CoreV1Api;
  pod: V1Pod;
  container: V1Container;
  /** plans are the API-backed mounts (how = api). */
  plans: VolumeMountPlan[];
  /** dir is the laptop directory the container's paths are placed under. */
  dir: string;
  logger: Logger;
}

const RETRY_MS = 2000;

/** VolumeFiles writes and refreshes an intercept's API-backed volumes. */
export class VolumeFiles {
  readonly #o: VolumeFilesOptions;
  #pod: V1Pod;
  readonly #configMaps = new Map<string, V1ConfigMap | undefined>();
  readonly #secrets = new Map<string, V1Secret | undefined>();
  readonly #tokens = new Map<string, string>();
  readonly #watches: AbortController[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;
  #generation = 0;
  #writing: Promise<void> = Promise.resolve();
  /** problems are per mount path: what could not be rendered the last time. */
  readonly problems = new Map<string, string[]>();

  constructor(o: VolumeFilesOptions) {
    this.#o = o;
    this.#pod = o.pod;
  }

  get #namespace(): string {
    return this.#pod.metadata?.namespace ?? 'default';
  }

  /** start reads every object the volumes need, writes them, and starts watching. */
  async start(): Promise<void> {
    const { core } = this.#o;
    const ns = this.#namespace;
    const missing = (err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    };
    let wantPod = false;
    for (const p of this.#o.plans) {
      const v = volumeOf(this.#pod, p);
      if (!v) continue;
      const n = needsOf(v);
      for (const name of n.configMaps) this.#configMaps.set(name, undefined);
      for (const name of n.secrets) this.#secrets.set(name, undefined);
      for (const t of n.tokens) await this.#refreshToken(t);
      wantPod ||= n.pod;
    }
    for (const name of this.#configMaps.keys())
      this.#configMaps.set(name, await core.readNamespacedConfigMap({ name, namespace: ns }).catch(missing));
    for (const name of this.#secrets.keys())
      this.#secrets.set(name, await core.readNamespacedSecret({ name, namespace: ns }).catch(missing));
    await this.#writeAll();
    for (const name of this.#configMaps.keys())
      this.#watch(`/api/v1/namespaces/${ns}/configmaps`, name, (o) => this.#configMaps.set(name, o as V1ConfigMap));
    for (const name of this.#secrets.keys())
      this.#watch(`/api/v1/namespaces/${ns}/secrets`, name, (o) => this.#secrets.set(name, o as V1Secret));
    if (wantPod)
      this.#watch(`/api/v1/namespaces/${ns}/pods`, this.#pod.metadata?.name ?? '', (o) => {
        if (o) this.#pod = o as V1Pod;
      });
  }

  // A service account token for a projected volume, requested with the user's credentials (TokenRequest API).
  async #refreshToken(t: { path: string; audience: string; expirationSeconds: number }): Promise<void> {
    if (this.#closed) return;
    const name = this.#pod.spec?.serviceAccountName || 'default';
    try {
      const tr = await this.#o.core.createNamespacedServiceAccountToken({
        name,
        namespace: this.#namespace,
        body: {
          spec: {
            audiences: t.audience ? [t.audience] : [],
            expirationSeconds: t.expirationSeconds,
            boundObjectRef: {
              apiVersion: 'v1',
              kind: 'Pod',
              name: this.#pod.metadata?.name,
              uid: this.#pod.metadata?.uid,
            },
          },
        },
      });
      if (tr.status?.token) this.#tokens.set(t.path, tr.status.token);
    } catch (err) {
      this.#o.logger.warn({ err: String(err), serviceAccount: name }, 'requesting a service account token failed');
    }
    const timer = setTimeout(
      () => void this.#refreshToken(t).then(() => this.#writeAll()),
      Math.max(60, t.expirationSeconds * 0.8) * 1000,
    );
    timer.unref();
    this.#timers.push(timer);
  }

  // Watches one object by name; every change (or deletion) rewrites the volumes. Restarts when the watch ends.
  #watch(path: string, name: string, set: (obj: unknown) => void): void {
    if (this.#closed) return;
    const restart = () => {
      if (this.#closed) return;
      const t = setTimeout(() => this.#watch(path, name, set), RETRY_MS);
      t.unref();
      this.#timers.push(t);
    };
    new Watch(this.#o.kc)
      .watch(
        path,
        { fieldSelector: `metadata.name=${name}` },
        (phase, obj) => {
          if (phase === 'ERROR') return;
          set(phase === 'DELETED' ? undefined : obj);
          void this.#writeAll();
        },
        (err) => {
          if (err) this.#o.logger.debug({ err: String(err), path, name }, 'volume watch ended');
          restart();
        },
      )
      .then(
        (ac) => {
          if (this.#closed) ac.abort();
          else this.#watches.push(ac);
        },
        (err: unknown) => {
          this.#o.logger.debug({ err: String(err), path, name }, 'volume watch failed');
          restart();
        },
      );
  }

  // Writes run one at a time, each from the latest objects.
  #writeAll(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (this.#closed) return;
      for (const p of this.#o.plans) {
        const v = volumeOf(this.#pod, p);
        if (!v) continue;
        const r = renderVolume(this.#pod, this.#o.container, v, {
          configMap: (n) => this.#configMaps.get(n),
          secret: (n) => this.#secrets.get(n),
          token: (path) => this.#tokens.get(path),
        });
        this.problems.set(p.mountPath, r.problems);
        const target = join(this.#o.dir, p.mountPath);
        try {
          const files = selectSubPath(r.files, p.subPath);
          if (p.subPath && files.length === 1 && files[0]?.path === '') await writeOneFile(target, files[0]);
          else await writeAtomicDir(target, files, ++this.#generation);
        } catch (err) {
          this.#o.logger.warn({ err: String(err), path: target }, 'writing a volume failed');
          this.problems.set(p.mountPath, [...r.problems, `writing ${target}: ${(err as Error).message}`]);
        }
      }
    });
    return this.#writing;
  }

  /** close stops watching and removes what was written (directories only when empty). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watches) w.abort();
    for (const t of this.#timers) clearTimeout(t);
    await this.#writing.catch(() => undefined);
    for (const p of this.#o.plans) await removeVolume(join(this.#o.dir, p.mountPath)).catch(() => undefined);
  }
}

async function writeOneFile(target: string, f: File): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.devnet-tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, f.data, { mode: f.mode & 0o555 });
  await rename(tmp, target);
}

/** writeAtomicDir replaces the files of a volume directory at once (`..data` symlink swap). */
export async function writeAtomicDir(target: string, files: File[], generation: number): Promise<void> {
  await mkdir(target, { recursive: true });
  const gen = `..${process.pid}_${generation}`;
  const genDir = join(target, gen);
  await rm(genDir, { recursive: true, force: true });
  await mkdir(genDir);
  const dirs = new Set<string>();
  for (const f of files) {
    const path = join(genDir, f.path);
    await mkdir(dirname(path), { recursive: true });
    dirs.add(dirname(path));
    await writeFile(path, f.data, { mode: f.mode & 0o555 });
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await chmod(d, 0o555);
  const old = await readlink(join(target, '..data')).catch(() => undefined);
  await rm(join(target, '..data_tmp'), { force: true });
  await symlink(gen, join(target, '..data_tmp'));
  await rename(join(target, '..data_tmp'), join(target, '..data'));
  const top = new Set(files.map((f) => f.path.split('/')[0] as string));
  for (const name of top)
    await symlink(join('..data', name), join(target, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  for (const name of await readdir(target))
    if (!name.startsWith('..') && !top.has(name)) await rm(join(target, name), { force: true });
  if (old && old !== gen) await removeGeneration(join(target, old));
}

async function removeGeneration(dir: string): Promise<void> {
  // Generation directories were made read-only: give write permission back before removing.
  const walk = async (d: string): Promise<void> => {
    await chmod(d, 0o755).catch(() => undefined);
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => []))
      if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(dir);
  await rm(dir, { recursive: true, force: true });
}

/** removeVolume deletes a volume written by writeAtomicDir or writeOneFile, and nothing else. */
async function removeVolume(target: string): Promise<void> {
  const entries = await readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  if (entries === undefined) return rm(target, { force: true });
  for (const name of entries) {
    if (
      name === '..data' ||
      (!name.startsWith('..') && (await readlink(join(target, name)).catch(() => '')).startsWith('..data/'))
    )
      await rm(join(target, name), { force: true });
    else if (name.startsWith('..')) await removeGeneration(join(target, name));
  }
  await rmdir(target).catch(() => undefined);
}
