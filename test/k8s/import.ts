// Images into the running cluster's containerd: each image is built (see
// images.ts) and imported with ctr only when containerd lacks that exact
// content, recorded per name set in the cluster's state. `up` imports every
// image; an end-to-end suite imports only its checkout's gateway, under a
// tag derived from the gateway's sources (devGatewayImage), so checkouts
// testing on one machine never overwrite each other's gateway. The
// side-by-side bench imports its pod's image the same way, when it runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchImage, benchImageSpec, gatewayImage, gatewaySourceFiles, imageSpecs, ROOT } from './cluster-images.ts';
import { containerdSocket } from './configs.ts';
import { buildImage, type ImageSpec } from './images.ts';
import { type Paths, paths } from './layout.ts';

/** Build is what `up` recorded of the programs it runs. */
export interface Build {
  bin: string;
  versions: Record<string, string>;
}

/** buildFile records the running cluster's build. */
export const buildFile = (p: Paths) => join(p.state, 'build.json');

/** readBuild returns the running cluster's build record. */
export function readBuild(p: Paths = paths()): Build {
  return JSON.parse(readFileSync(buildFile(p), 'utf8')) as Build;
}

/** devGatewayImage is this checkout's gateway under a tag that names its content. */
export function devGatewayImage(): string {
  const h = createHash('sha256');
  for (const f of gatewaySourceFiles()) h.update(f).update(readFileSync(join(ROOT, f)));
  h.update(readFileSync(join(ROOT, 'package-lock.json')));
  return `${gatewayImage()}-dev.${h.digest('hex').slice(0, 12)}`;
}

/** importSpecs builds and imports the given images where containerd lacks them; it returns the keys of the specs it imported. */
export function importSpecs(p: Paths, build: Build, specs: ImageSpec[], log: (msg: string) => void): string[] {
  const done: string[] = [];
  const recordFile = join(p.state, 'imported.json');
  const imported: Record<string, string> = existsSync(recordFile) ? JSON.parse(readFileSync(recordFile, 'utf8')) : {};
  for (const spec of specs) {
    const t0 = Date.now();
    const names = spec.variants.flatMap((v) => v.names);
    const key = `${spec.key}:${names.join(',')}`;
    const archive = join(p.images, `${spec.key}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}.tar`);
    const built = buildImage(spec, archive);
    const digest = createHash('sha256').update(built.layerDigest).update(JSON.stringify(spec.variants)).digest('hex');
    if (imported[key] === digest) continue;
    execFileSync(
      join(build.bin, 'ctr'),
      ['--address', containerdSocket(p), '-n', 'k8s.io', 'images', 'import', archive],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const now: Record<string, string> = existsSync(recordFile) ? JSON.parse(readFileSync(recordFile, 'utf8')) : {};
    now[key] = digest;
    writeFileSync(recordFile, JSON.stringify(now));
    log(`imported ${names.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    done.push(spec.key);
  }
  return done;
}

/** allSpecs are the images `up` imports: the gateway under its published tag. */
export function allSpecs(build: Build): ImageSpec[] {
  const cache = join(build.bin, '..');
  return imageSpecs(build.bin, cache, {
    pause: build.versions.pause as string,
    coredns: build.versions.coredns as string,
    gatewayNames: [gatewayImage()],
  });
}

/** importDevGatewayImage imports this checkout's gateway under devGatewayImage() (nothing when it is there already). */
export function importDevGatewayImage(log: (msg: string) => void = () => undefined): void {
  const p = paths();
  const build = readBuild(p);
  const specs = imageSpecs(build.bin, join(build.bin, '..'), {
    pause: build.versions.pause as string,
    coredns: build.versions.coredns as string,
    gatewayNames: [devGatewayImage()],
  }).filter((s) => s.key === 'gateway');
  importSpecs(p, build, specs, log);
}

/** importBenchImage imports the side-by-side bench's pod image (nothing when containerd has this content) and returns its name. */
export function importBenchImage(log: (msg: string) => void = () => undefined): string {
  const p = paths();
  importSpecs(p, readBuild(p), [benchImageSpec()], log);
  return benchImage();
}
