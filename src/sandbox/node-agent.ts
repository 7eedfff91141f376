// The node agent: everything that runs beside the API server — the
// controllers, the kubelet, kube-proxy and cluster DNS — all driven by one
// set of informers. Every event schedules one level-triggered pass over
// the caches (coalesced, never two at once), so the order of events never
// matters, only the latest state.
import type {
  V1Deployment,
  V1EndpointSlice,
  V1Endpoints,
  V1Namespace,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SyncJournal } from '../journal/journal.ts';
import { VERSION } from '../version.ts';
import { relayToApiServer } from './api-service.ts';
import { CLUSTER_DNS_IP, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, NODE_POD_CIDR } from './constants.ts';
import { type ClusterState, ControllerManager } from './controllers/manager.ts';
import { ClusterDns } from './dns/server.ts';
import { Zone } from './dns/zone.ts';
import type { Exec } from './exec.ts';
import type { StagedImage } from './image.ts';
import { type Cache, type Clients, startInformer } from './kube.ts';
import { KubeProxy } from './kube-proxy.ts';
import { Kubelet } from './kubelet.ts';
import { bindInNetns } from './netns-sockets.ts';
import { nodeNetns, type SandboxPaths, volumesDir } from './paths.ts';

/** RESYNC_MS is how often the agent makes a pass without any event. */
const RESYNC_MS = 5000;

/** NodeAgentDeps are what the node agent needs. */
export interface NodeAgentDeps {
  paths: SandboxPaths;
  clients: Clients;
  journal: SyncJournal;
  exec: Exec;
  logger: Logger;
  /** image is the gateway image: where it is, and when it is staged. */
  image: { layout: StagedImage; staged: Promise<unknown> };
  /** api is the API server's address on the host, for the `kubernetes` Service relay. */
  api: { host: string; port: number; caCertPem: string };
}

/** nodeObject is the sandbox's Node, Ready, with its podCIDR. */
export function nodeObject(): V1Node {
  const now = new Date().toISOString() as unknown as Date;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE_NAME,
      labels: {
        'kubernetes.io/hostname': NODE_NAME,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': process.arch === 'arm64' ? 'arm64' : 'amd64',
        'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: { podCIDR: NODE_POD_CIDR, podCIDRs: [NODE_POD_CIDR] },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'devnet sandbox kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      addresses: [
        { type: 'InternalIP', address: NODE_IP },
        { type: 'Hostname', address: NODE_NAME },
      ],
      capacity: { cpu: '2', memory: '4Gi', pods: '253' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '253' },
      nodeInfo: {
        architecture: process.arch,
        bootID: '',
        containerRuntimeVersion: `devnet-sandbox://${VERSION}`,
        kernelVersion: '',
        kubeProxyVersion: 'v1.32.0',
        kubeletVersion: 'v1.32.0',
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'devnet sandbox',
        systemUUID: '',
      },
    },
  };
}

/** NodeAgent runs the controllers, kubelet, kube-proxy and DNS over shared informers. */
export class NodeAgent {
  readonly #d: NodeAgentDeps;
  readonly #caches: Cache<never>[] = [];
  #pods?: Cache<V1Pod>;
  #services?: Cache<V1Service>;
  #slices?: Cache<V1EndpointSlice>;
  #endpoints?: Cache<V1Endpoints>;
  #deployments?: Cache<V1Deployment>;
  #statefulsets?: Cache<V1StatefulSet>;
  #namespaces?: Cache<V1Namespace>;
  #claims?: Cache<V1PersistentVolumeClaim>;
  #volumes?: Cache<V1PersistentVolume>;
  #stopRelay?: () => void;
  #kubelet: Kubelet;
  #controllers: ControllerManager;
  #proxy: KubeProxy;
  #dns?: ClusterDns;
  #running = false;
  #again = false;
  #closed = false;
  #started = false;
  #resync?: NodeJS.Timeout;

  constructor(deps: NodeAgentDeps) {
    this.#d = deps;
    this.#kubelet = new Kubelet({
      ...deps,
      getPod: (ns, name) => this.#pods?.get(name, ns),
      resync: () => this.#kick(),
    });
    this.#controllers = new ControllerManager(
      deps.clients,
      deps.logger.child({ component: 'controllers' }),
      volumesDir(deps.paths),
    );
    this.#proxy = new KubeProxy(nodeNetns(deps.paths), deps.exec);
  }

  /** start registers the node, opens DNS in the node namespace and starts the informers. */
  async start(): Promise<void> {
    const { core, apps, discovery, kc } = this.#d.clients;
    const node = nodeNetns(this.#d.paths);
    const [, dns, apiService] = await Promise.all([
      core.createNode({ body: nodeObject() }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      }),
      bindInNetns(node, CLUSTER_DNS_IP, 53),
      bindInNetns(node, KUBERNETES_SERVICE_IP, 443, true),
    ]);
    this.#dns = new ClusterDns(dns.udp, dns.tcp, new Zone([], [], []), this.#d.logger.child({ component: 'dns' }));
    this.#stopRelay = relayToApiServer(apiService.tcp, this.#d.api.host, this.#d.api.port);
    const log = this.#d.logger.child({ component: 'informer' });
    const kick = () => this.#kick();
    const track = <T>(c: Cache<T & object>) => {
      this.#caches.push(c as unknown as Cache<never>);
      return c;
    };
    [
      this.#pods,
      this.#services,
      this.#slices,
      this.#endpoints,
      this.#deployments,
      this.#statefulsets,
      this.#namespaces,
      this.#claims,
      this.#volumes,
    ] = await Promise.all([
      startInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces(), kick, log).then(track),
      startInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces(), kick, log).then(track),
      startInformer(
        kc,
        '/apis/discovery.k8s.io/v1/endpointslices',
        () => discovery.listEndpointSliceForAllNamespaces(),
        kick,
        log,
      ).then(track),
      startInformer(kc, '/api/v1/endpoints', () => core.listEndpointsForAllNamespaces(), kick, log).then(track),
      startInformer(kc, '/apis/apps/v1/deployments', () => apps.listDeploymentForAllNamespaces(), kick, log).then(
        track,
      ),
      startInformer(kc, '/apis/apps/v1/statefulsets', () => apps.listStatefulSetForAllNamespaces(), kick, log).then(
        track,
      ),
      startInformer(kc, '/api/v1/namespaces', () => core.listNamespace(), kick, log).then(track),
      startInformer(
        kc,
        '/api/v1/persistentvolumeclaims',
        () => core.listPersistentVolumeClaimForAllNamespaces(),
        kick,
        log,
      ).then(track),
      startInformer(kc, '/api/v1/persistentvolumes', () => core.listPersistentVolume(), kick, log).then(track),
    ]);
    this.#started = true;
    this.#kick();
    // A periodic pass, like the controllers' resync period: retries failed writes and kube-proxy applies without waiting for an event.
    this.#resync = setInterval(() => this.#kick(), RESYNC_MS);
    this.#resync.unref();
  }

  /** state is the current snapshot of the caches. */
  state(): ClusterState {
    return {
      pods: [...(this.#pods?.list() ?? [])],
      services: [...(this.#services?.list() ?? [])],
      slices: [...(this.#slices?.list() ?? [])],
      endpoints: [...(this.#endpoints?.list() ?? [])],
      deployments: [...(this.#deployments?.list() ?? [])],
      statefulsets: [...(this.#statefulsets?.list() ?? [])],
      namespaces: [...(this.#namespaces?.list() ?? [])],
      claims: [...(this.#claims?.list() ?? [])],
      volumes: [...(this.#volumes?.list() ?? [])],
    };
  }

  /** runners counts the pods with a live runner process. */
  runners(): number {
    return this.#kubelet.runners();
  }

  /** dnsCounters reports the DNS server's counters. */
  dnsCounters(): { queries: number; malformed: number } {
    return this.#dns?.counters ?? { queries: 0, malformed: 0 };
  }

  #kick(): void {
    if (!this.#started || this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    setImmediate(async () => {
      do {
        this.#again = false;
        await this.#pass().catch((err: unknown) => this.#d.logger.error({ err: String(err) }, 'reconcile pass failed'));
      } while (this.#again && !this.#closed);
      this.#running = false;
    });
  }

  async #pass(): Promise<void> {
    const s = this.state();
    if (this.#dns) this.#dns.zone = new Zone(s.services, s.slices, s.pods);
    this.#kubelet.sync(s.pods, s.claims, s.volumes);
    await Promise.all([
      this.#controllers.reconcile(s),
      this.#proxy
        .sync(s.services, s.slices)
        .catch((err: unknown) => this.#d.logger.error({ err: String(err) }, 'kube-proxy sync failed')),
    ]);
  }

  /** close stops informers, pods and DNS. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#resync);
    await Promise.all(this.#caches.map((c) => c.stop().catch(() => undefined)));
    await this.#kubelet.close();
    this.#dns?.close();
    this.#stopRelay?.();
  }
}
