// A pod's volumes as the sandbox kubelet provides them: each volume becomes
// a directory on the node (ConfigMap, Secret, downward API and projected
// volumes rendered by devnet's own renderer, src/intercept/volumes.ts, in
// the kubelet's atomic layout; emptyDir an empty directory; a claim its
// PersistentVolume's hostPath), and each container volumeMount a bind mount
// the pod runner makes (pod-plan.ts `mounts`). A claim that is not bound, or
// a ReadWriteOncePod claim another pod uses, keeps the pod waiting, as the
// scheduler would. Other volume types are not provided (logged).
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';
import { writeAtomicDir } from '../intercept/volume-files.ts';
import { isCleanPath, isCleanRelative, needsOf, renderVolume } from '../intercept/volumes.ts';
import { ConfigError, type ConfigLookup } from './pod-env.ts';
import type { VolumeMount } from './pod-plan.ts';

/** PreparedVolume is a volume's directory on the node. */
export interface PreparedVolume {
  source: string;
  readOnly: boolean;
  /** claim names the PersistentVolumeClaim behind it. */
  claim?: string;
}

/** VolumeContext is what preparing volumes reads. */
export interface VolumeContext {
  /** dir is the pod's own volume directory on the node. */
  dir: string;
  /** volumesDir holds every PersistentVolume the sandbox serves (a hostPath elsewhere is refused: root must not make it). */
  volumesDir: string;
  lookup: ConfigLookup;
  claims: V1PersistentVolumeClaim[];
  volumes: V1PersistentVolume[];
  /** claimedBy says which other running pod uses a claim (for ReadWriteOncePod). */
  claimedBy(namespace: string, claim: string): string | undefined;
  /** token is the pod's service account token (projected serviceAccountToken sources). */
  token: string | undefined;
  /** podIP fills status.podIP for the downward API before the status says it. */
  podIP: string;
  generation: number;
  log(message: string): void;
  /** apiOnly: only (re)write the API-backed volumes (the kubelet's periodic refresh of running pods). */
  apiOnly?: boolean;
}

/** prepareVolumes makes every supported volume's directory and returns them by name. */
export async function prepareVolumes(pod: V1Pod, ctx: VolumeContext): Promise<Map<string, PreparedVolume>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const out = new Map<string, PreparedVolume>();
  const withIP: V1Pod = { ...pod, status: { ...pod.status, podIP: ctx.podIP, podIPs: [{ ip: ctx.podIP }] } };
  for (const v of pod.spec?.volumes ?? []) {
    const dir = join(ctx.dir, 'volumes', v.name);
    if (v.configMap || v.secret || v.downwardAPI || v.projected) {
      const needs = needsOf(v);
      const cms = new Map<string, V1ConfigMap | undefined>();
      const secrets = new Map<string, V1Secret | undefined>();
      for (const n of needs.configMaps) cms.set(n, await ctx.lookup.configMap(ns, n));
      for (const n of needs.secrets) secrets.set(n, await ctx.lookup.secret(ns, n));
      const container = (pod.spec?.containers[0] ?? { name: '' }) as V1Container;
      const r = renderVolume(withIP, container, v, {
        configMap: (n) => cms.get(n),
        secret: (n) => secrets.get(n),
        token: () => ctx.token,
      });
      // The kubelet's wording for a volume whose object is missing (the pod waits in ContainerCreating).
      const missing = r.problems.find((p) => p.endsWith('does not exist'));
      if (missing) throw new ConfigError(`MountVolume.SetUp failed for volume "${v.name}": ${missing}`);
      await writeAtomicDir(dir, r.files, ctx.generation);
      out.set(v.name, { source: dir, readOnly: true });
    } else if (ctx.apiOnly) {
    } else if (v.emptyDir) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
      out.set(v.name, { source: dir, readOnly: false });
    } else if (v.persistentVolumeClaim) {
      const name = v.persistentVolumeClaim.claimName;
      const claim = ctx.claims.find((c) => c.metadata?.namespace === ns && c.metadata?.name === name);
      if (!claim) throw new ConfigError(`persistentvolumeclaim "${name}" not found`);
      if (claim.status?.phase !== 'Bound' || !claim.spec?.volumeName)
        throw new ConfigError(`pod has unbound immediate PersistentVolumeClaims (${name})`);
      const modes = claim.status?.accessModes ?? claim.spec?.accessModes ?? [];
      const user = ctx.claimedBy(ns, name);
      if (modes.length === 1 && modes[0] === 'ReadWriteOncePod' && user)
        throw new ConfigError(
          `node(s) unavailable due to PVC ${ns}/${name} being used by pod ${user} (ReadWriteOncePod access mode)`,
          3000,
        );
      const pv = ctx.volumes.find((x) => x.metadata?.name === claim.spec?.volumeName);
      const path = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
      if (!path) throw new ConfigError(`persistentvolume "${claim.spec.volumeName}" has no hostPath on this node`);
      if (!isCleanPath(path) || !path.startsWith(`${ctx.volumesDir}/`))
        throw new ConfigError(
          `persistentvolume "${claim.spec.volumeName}": the sandbox serves volumes only below ${ctx.volumesDir}`,
          5000,
        );
      mkdirSync(path, { recursive: true });
      chmodSync(path, 0o777); // as rancher's local-path provisioner makes its directories
      out.set(v.name, { source: path, readOnly: !!v.persistentVolumeClaim.readOnly, claim: name });
    } else
      ctx.log(
        `volume ${v.name}: ${Object.keys(v).filter((k) => k !== 'name')[0]} volumes are not provided by the sandbox`,
      );
  }
  return out;
}

/** containerMounts turns a container's volumeMounts into bind mounts of the prepared directories. */
export function containerMounts(c: V1Container, prepared: Map<string, PreparedVolume>): VolumeMount[] {
  const out: VolumeMount[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = prepared.get(m.name);
    if (!v) continue;
    if (!isCleanPath(m.mountPath))
      throw new ConfigError(`volumeMount ${m.name}: mountPath "${m.mountPath}" is not a clean absolute path`);
    if (m.subPath && !isCleanRelative(m.subPath))
      throw new ConfigError(`volumeMount ${m.name}: subPath "${m.subPath}" leaves the volume`);
    out.push({
      source: m.subPath ? join(v.source, m.subPath) : v.source,
      target: m.mountPath,
      readOnly: v.readOnly || !!m.readOnly,
    });
  }
  return out;
}
