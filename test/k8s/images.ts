// Container images without a registry: each image is an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) with one uncompressed layer,
// written as a tar archive that `ctr -n k8s.io images import` takes. Layers
// are made reproducibly with GNU tar (sorted names, mtime 0, owner 0), so the
// same inputs give the same digests and a re-import changes nothing.
//
// A root filesystem is assembled from files on this machine: programs are
// copied with the shared libraries `ldd` names (the Node runtime from the npm
// registry's node package, Debian's curl, ping, getent, busybox-static), plus
// minimal /etc files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** ImageConfig is the runtime part of an OCI image config. */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
}

/** ImageVariant is one manifest over the shared layer: its config and the names (registry/repository:tag) that point at it. */
export interface ImageVariant {
  names: string[];
  config: ImageConfig;
}

/** ImageSpec is one root filesystem (one layer) and the images made of it. */
export interface ImageSpec {
  /** key names the archive in the cache. */
  key: string;
  fill: (rootfs: string) => void;
  variants: ImageVariant[];
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** libraries lists the shared libraries (and the ELF interpreter) a program needs, from ldd. */
export function libraries(program: string): string[] {
  let out = '';
  try {
    out = execFileSync('ldd', [program], { encoding: 'utf8' });
  } catch {
    return []; // "not a dynamic executable": static
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/** copyInto copies a host file to the same path (or `as`) under rootfs, following symlinks. */
export function copyInto(rootfs: string, file: string, as = file, mode?: number): void {
  const dest = join(rootfs, as);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(file, dest);
  chmodSync(dest, mode ?? statSync(file).mode & 0o7777);
}

/** addProgram copies a program and every library it needs. */
export function addProgram(rootfs: string, program: string, as = program): void {
  copyInto(rootfs, program, as);
  for (const lib of libraries(program)) if (!existsSync(join(rootfs, lib))) copyInto(rootfs, lib);
}

/** addBase writes the /etc files and directories every image gets; users maps uid to name. */
export function addBase(rootfs: string, users: Record<number, string> = {}): void {
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  const all = { 0: 'root', ...users, 65534: 'nobody' };
  const passwd = Object.entries(all).map(([uid, name]) => `${name}:x:${uid}:${uid}:${name}:/tmp:/sbin/nologin`);
  const group = Object.entries(all).map(([gid, name]) => `${name}:x:${gid}:`);
  writeFileSync(join(rootfs, 'etc/passwd'), `${passwd.join('\n')}\n`);
  writeFileSync(join(rootfs, 'etc/group'), `${group.join('\n')}\n`);
  writeFileSync(join(rootfs, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
}

/** addBusybox installs busybox-static with a link per applet a shell session needs. */
export function addBusybox(rootfs: string): void {
  copyInto(rootfs, '/bin/busybox', '/bin/busybox', 0o755);
  const applets =
    'sh cat echo env ls sleep nc wget printf grep sed head tail wc mkdir rm true false id hostname ps kill tr cut sort uniq test date'.split(
      ' ',
    );
  for (const a of applets) {
    const p = join(rootfs, 'bin', a);
    if (!existsSync(p)) symlinkSync('busybox', p);
  }
}

function tarDir(dir: string, out: string): void {
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C',
    dir,
    '-cf',
    out,
    '.',
  ]);
}

/** BuiltImage is an archive on disk, the digest of its layer and the image names it holds. */
export interface BuiltImage {
  archive: string;
  layerDigest: string;
  names: string[];
}

/** buildImage writes spec as an OCI archive at `archive`. */
export function buildImage(spec: ImageSpec, archive: string, arch = 'amd64'): BuiltImage {
  const work = mkdtempSync(join(tmpdir(), 'devnet-image-'));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    spec.fill(rootfs);
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTmp = join(work, 'layer.tar');
    tarDir(rootfs, layerTmp);
    const layer = readFileSync(layerTmp);
    const layerDigest = sha256(layer);
    renameSync(layerTmp, join(blobs, layerDigest));
    const blob = (obj: unknown) => {
      const b = Buffer.from(JSON.stringify(obj));
      const d = sha256(b);
      writeFileSync(join(blobs, d), b);
      return { digest: `sha256:${d}`, size: b.length };
    };
    const entries = spec.variants.flatMap((v) => {
      const config = blob({
        architecture: arch,
        os: 'linux',
        config: v.config,
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
        history: [{ created_by: 'devnet test/k8s/images.ts' }],
      });
      const manifest = blob({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length },
        ],
      });
      return v.names.map((name) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        platform: { architecture: arch, os: 'linux' },
        annotations: {
          'io.containerd.image.name': name,
          'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1),
        },
      }));
    });
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }),
    );
    mkdirSync(dirname(archive), { recursive: true });
    tarDir(layout, `${archive}.tmp`);
    renameSync(`${archive}.tmp`, archive);
    return { archive, layerDigest: `sha256:${layerDigest}`, names: spec.variants.flatMap((v) => v.names) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** listLayerFiles lists the regular files and links of an image archive's single layer (paths without the leading "./"). */
export function listLayerFiles(archive: string): string[] {
  const work = mkdtempSync(join(tmpdir(), 'devnet-image-list-'));
  try {
    execFileSync('tar', ['-C', work, '-xf', archive]);
    const index = JSON.parse(readFileSync(join(work, 'index.json'), 'utf8'));
    const blob = (d: string) => join(work, 'blobs', 'sha256', d.replace('sha256:', ''));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const out = execFileSync('tar', ['-tf', blob(manifest.layers[0].digest)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return out
      .split('\n')
      .filter((l) => l && !l.endsWith('/'))
      .map((l) => l.replace(/^\.\//, ''));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** copyTree copies a directory tree (used for /app contents). */
export function copyTree(from: string, to: string, filter?: (src: string) => boolean): void {
  cpSync(from, to, { recursive: true, dereference: false, filter });
}
