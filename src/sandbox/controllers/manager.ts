// The controller manager: runs the Deployment, StatefulSet, EndpointSlice/
// Endpoints and garbage-collection controllers over the informer caches and
// writes their decisions to the API. Caches lag behind our own writes, so
// creations and deletions in flight are remembered ("expectations", as in
// kube-controller-manager) until the cache shows them, to never create a
// pod twice.
import type {
  V1Deployment,
  V1EndpointSlice,
  V1Endpoints,
  V1Namespace,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiErrorCode, type Clients, ignoreNotFound } from '../kube.ts';
import { planDeployment, type WorkloadPlan } from './deployment.ts';
import { MANAGED_BY, planEndpoints } from './endpoints.ts';
import { controllerOf } from './names.ts';
import { planStatefulSet } from './statefulset.ts';
import { planStorage } from './volumes.ts';

const EXPECTATION_TTL_MS = 15_000;

/** ClusterState is a snapshot of the caches the controllers read. */
export interface ClusterState {
  pods: V1Pod[];
  services: V1Service[];
  slices: V1EndpointSlice[];
  endpoints: V1Endpoints[];
  deployments: V1Deployment[];
  statefulsets: V1StatefulSet[];
  namespaces: V1Namespace[];
  claims: V1PersistentVolumeClaim[];
  volumes: V1PersistentVolume[];
}

const key = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace}/${o.metadata?.name}`;

/** stable renders a value canonically (sorted keys, dates as ISO strings, undefined dropped), for change detection. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x instanceof Date) return x.toISOString();
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      return Object.fromEntries(
        Object.entries(x as Record<string, unknown>)
          .filter(([, y]) => y !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return x;
  });
}

/** ControllerManager reconciles workloads and endpoints. */
export class ControllerManager {
  readonly #c: Clients;
  readonly #log: Logger;
  readonly #creating = new Map<string, { pod: V1Pod; at: number }>();
  readonly #deleting = new Map<string, number>();
  /** #accounted holds the UIDs of namespaces whose `default` ServiceAccount exists. */
  readonly #accounted = new Set<string>();

  readonly #volumesDir: string;
  readonly #claimsMade = new Map<string, number>();

  /** volumesDir holds the directories of provisioned volumes (controllers/volumes.ts). */
  constructor(clients: Clients, logger: Logger, volumesDir = '/var/lib/devnet-sandbox/volumes') {
    this.#c = clients;
    this.#log = logger;
    this.#volumesDir = volumesDir;
  }

  /** podsView is the cached pods adjusted by creations and deletions still in flight. */
  #podsView(cached: V1Pod[]): V1Pod[] {
    const now = Date.now();
    const byKey = new Map(cached.map((p) => [key(p), p]));
    for (const [k, e] of this.#creating) if (byKey.has(k) || now - e.at > EXPECTATION_TTL_MS) this.#creating.delete(k);
    for (const [k, at] of this.#deleting) if (!byKey.has(k) || now - at > EXPECTATION_TTL_MS) this.#deleting.delete(k);
    return [...cached.filter((p) => !this.#deleting.has(key(p))), ...[...this.#creating.values()].map((e) => e.pod)];
  }

  /** reconcile runs every controller once over a snapshot. */
  async reconcile(s: ClusterState): Promise<void> {
    const pods = this.#podsView(s.pods);
    const work: Promise<unknown>[] = [];
    for (const d of s.deployments) {
      const owned = pods.filter((p) => controllerOf(p.metadata)?.uid === d.metadata?.uid);
      const plan = planDeployment(d, owned);
      work.push(this.#applyWorkload(plan));
      if (stable(pick(d.status)) !== stable(plan.status)) {
        work.push(
          this.#c.apps
            .replaceNamespacedDeploymentStatus({
              namespace: d.metadata?.namespace ?? '',
              name: d.metadata?.name ?? '',
              body: { ...d, status: plan.status as never },
            })
            .catch((e: unknown) => this.#writeFailed('deployment status', key(d), e)),
        );
      }
    }
    for (const ss of s.statefulsets) {
      const owned = pods.filter((p) => controllerOf(p.metadata)?.uid === ss.metadata?.uid);
      const plan = planStatefulSet(ss, owned, s.claims);
      work.push(this.#createClaims(plan.claims).then(() => this.#applyWorkload(plan)));
      if (stable(pick(ss.status)) !== stable(plan.status)) {
        work.push(
          this.#c.apps
            .replaceNamespacedStatefulSetStatus({
              namespace: ss.metadata?.namespace ?? '',
              name: ss.metadata?.name ?? '',
              body: { ...ss, status: plan.status as never },
            })
            .catch((e: unknown) => this.#writeFailed('statefulset status', key(ss), e)),
        );
      }
    }
    work.push(this.#reconcileStorage(s));
    work.push(this.#reconcileEndpoints(s, s.pods));
    work.push(this.#ensureServiceAccounts(s.namespaces));
    work.push(this.#collectGarbage(s, pods));
    await Promise.all(work);
  }

  async #applyWorkload(plan: WorkloadPlan): Promise<void> {
    const ops: Promise<unknown>[] = [];
    for (const pod of plan.create) {
      const k = key(pod);
      this.#creating.set(k, { pod, at: Date.now() });
      ops.push(
        this.#c.core
          .createNamespacedPod({ namespace: pod.metadata?.namespace ?? '', body: pod })
          .catch((e: unknown) => {
            this.#creating.delete(k);
            this.#writeFailed('create pod', k, e);
          }),
      );
    }
    for (const pod of plan.delete) ops.push(this.#deletePod(pod));
    await Promise.all(ops);
  }

  // Claims from volumeClaimTemplates; remembered a while so a lagging cache does not make them twice.
  async #createClaims(claims: V1PersistentVolumeClaim[]): Promise<void> {
    const now = Date.now();
    for (const [k, at] of this.#claimsMade) if (now - at > EXPECTATION_TTL_MS) this.#claimsMade.delete(k);
    await Promise.all(
      claims
        .filter((c) => !this.#claimsMade.has(key(c)))
        .map((c) => {
          this.#claimsMade.set(key(c), now);
          return this.#c.core
            .createNamespacedPersistentVolumeClaim({ namespace: c.metadata?.namespace ?? '', body: c })
            .catch((e: unknown) => this.#writeFailed('create persistentvolumeclaim', key(c), e));
        }),
    );
  }

  // The local-path provisioner and binder (controllers/volumes.ts).
  async #reconcileStorage(s: ClusterState): Promise<void> {
    const plan = planStorage(s.claims, s.volumes, this.#volumesDir);
    const { core } = this.#c;
    await Promise.all(
      plan.createVolumes.map((v) =>
        core
          .createPersistentVolume({ body: v })
          .catch((e: unknown) => this.#writeFailed('create persistentvolume', v.metadata?.name ?? '', e)),
      ),
    );
    for (const { claim, volume } of plan.bind) {
      const ns = claim.metadata?.namespace ?? '';
      const name = claim.metadata?.name ?? '';
      try {
        const pv = await core.readPersistentVolume({ name: volume });
        if (pv.status?.phase !== 'Bound')
          await core.replacePersistentVolumeStatus({ name: volume, body: { ...pv, status: { phase: 'Bound' } } });
        const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name });
        if (pvc.spec?.volumeName !== volume) {
          pvc.spec = { ...pvc.spec, volumeName: volume };
          await core.replaceNamespacedPersistentVolumeClaim({ namespace: ns, name, body: pvc });
        }
        const fresh = await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name });
        await core.replaceNamespacedPersistentVolumeClaimStatus({
          namespace: ns,
          name,
          body: {
            ...fresh,
            status: {
              phase: 'Bound',
              accessModes: pv.spec?.accessModes ?? [],
              capacity: pv.spec?.capacity ?? {},
            },
          },
        });
      } catch (e) {
        this.#writeFailed('bind persistentvolumeclaim', `${ns}/${name}`, e);
      }
    }
    await Promise.all(
      plan.deleteVolumes.map((v) =>
        core
          .deletePersistentVolume({ name: v.metadata?.name ?? '' })
          .catch(ignoreNotFound)
          .catch((e: unknown) => this.#writeFailed('delete persistentvolume', v.metadata?.name ?? '', e)),
      ),
    );
  }

  #deletePod(pod: V1Pod): Promise<unknown> {
    const k = key(pod);
    this.#deleting.set(k, Date.now());
    return this.#c.core
      .deleteNamespacedPod({ namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' })
      .catch(ignoreNotFound)
      .catch((e: unknown) => {
        this.#deleting.delete(k);
        this.#writeFailed('delete pod', k, e);
      });
  }

  async #reconcileEndpoints(s: ClusterState, pods: V1Pod[]): Promise<void> {
    const ops: Promise<unknown>[] = [];
    const wantedSlices = new Set<string>();
    for (const svc of s.services) {
      if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0 || svc.spec.type === 'ExternalName')
        continue;
      const desired = planEndpoints(svc, pods);
      const ns = svc.metadata?.namespace ?? '';
      for (const slice of desired.slices) {
        wantedSlices.add(key(slice));
        const have = s.slices.find((x) => key(x) === key(slice));
        if (!have) {
          ops.push(
            this.#c.discovery
              .createNamespacedEndpointSlice({ namespace: ns, body: slice })
              .catch((e: unknown) => this.#writeFailed('create endpointslice', key(slice), e)),
          );
        } else if (stable(sliceContent(have)) !== stable(sliceContent(slice))) {
          const body = { ...slice, metadata: { ...slice.metadata, resourceVersion: have.metadata?.resourceVersion } };
          ops.push(
            this.#c.discovery
              .replaceNamespacedEndpointSlice({ namespace: ns, name: slice.metadata?.name ?? '', body })
              .catch((e: unknown) => this.#writeFailed('update endpointslice', key(slice), e)),
          );
        }
      }
      const ep = desired.endpoints;
      const haveEp = s.endpoints.find((x) => key(x) === key(ep));
      if (!haveEp) {
        ops.push(
          this.#c.core
            .createNamespacedEndpoints({ namespace: ns, body: ep })
            .catch((e: unknown) => this.#writeFailed('create endpoints', key(ep), e)),
        );
      } else if (stable(haveEp.subsets ?? []) !== stable(ep.subsets ?? [])) {
        const body = { ...ep, metadata: { ...ep.metadata, resourceVersion: haveEp.metadata?.resourceVersion } };
        ops.push(
          this.#c.core
            .replaceNamespacedEndpoints({ namespace: ns, name: ep.metadata?.name ?? '', body })
            .catch((e: unknown) => this.#writeFailed('update endpoints', key(ep), e)),
        );
      }
    }
    // Slices we manage that no Service wants any more (Service gone, selector changed, ports renumbered).
    for (const slice of s.slices) {
      if (slice.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'] !== MANAGED_BY) continue;
      if (wantedSlices.has(key(slice))) continue;
      ops.push(
        this.#c.discovery
          .deleteNamespacedEndpointSlice({
            namespace: slice.metadata?.namespace ?? '',
            name: slice.metadata?.name ?? '',
          })
          .catch(ignoreNotFound)
          .catch((e: unknown) => this.#writeFailed('delete endpointslice', key(slice), e)),
      );
    }
    await Promise.all(ops);
  }

  /** #collectGarbage deletes pods whose controlling workload is gone and Endpoints whose Service is gone (background propagation). */
  async #collectGarbage(s: ClusterState, pods: V1Pod[]): Promise<void> {
    const owners = new Set([...s.deployments, ...s.statefulsets].map((o) => o.metadata?.uid));
    const ops: Promise<unknown>[] = [];
    for (const pod of pods) {
      const owner = controllerOf(pod.metadata);
      if (!owner || (owner.kind !== 'Deployment' && owner.kind !== 'StatefulSet')) continue;
      if (owners.has(owner.uid) || this.#creating.has(key(pod)) || pod.metadata?.deletionTimestamp) continue;
      ops.push(this.#deletePod(pod));
    }
    const services = new Set(s.services.map(key));
    for (const ep of s.endpoints) {
      if (services.has(key(ep)) || key(ep) === 'default/kubernetes') continue;
      ops.push(
        this.#c.core
          .deleteNamespacedEndpoints({ namespace: ep.metadata?.namespace ?? '', name: ep.metadata?.name ?? '' })
          .catch(ignoreNotFound)
          .catch((e: unknown) => this.#writeFailed('delete endpoints', key(ep), e)),
      );
    }
    await Promise.all(ops);
  }

  /** #ensureServiceAccounts creates the `default` ServiceAccount in every active namespace (the ServiceAccount controller). */
  async #ensureServiceAccounts(namespaces: V1Namespace[]): Promise<void> {
    const ops: Promise<unknown>[] = [];
    for (const ns of namespaces) {
      const uid = ns.metadata?.uid;
      const name = ns.metadata?.name;
      if (!uid || !name || this.#accounted.has(uid) || ns.status?.phase === 'Terminating') continue;
      this.#accounted.add(uid);
      ops.push(
        this.#c.core
          .createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } })
          .catch((e: unknown) => {
            if (apiErrorCode(e) === 409) return;
            this.#accounted.delete(uid);
            this.#writeFailed('create serviceaccount', `${name}/default`, e);
          }),
      );
    }
    await Promise.all(ops);
  }

  #writeFailed(what: string, k: string, e: unknown): void {
    // Conflicts are expected when the cache is behind; the next event retries.
    if (apiErrorCode(e) === 409) return;
    this.#log.warn({ object: k, err: String((e as { body?: string }).body ?? e) }, `${what} failed`);
  }
}

function sliceContent(s: V1EndpointSlice): unknown {
  return { labels: s.metadata?.labels, addressType: s.addressType, ports: s.ports, endpoints: s.endpoints };
}

function pick(status: object | undefined): unknown {
  return status ?? {};
}
