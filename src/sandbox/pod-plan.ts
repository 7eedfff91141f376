// What the kubelet tells a pod runner to run, and what the runner reports
// back, over the runner's IPC channel. Plain JSON: the runner is a separate
// process inside the pod's network namespace.
import type { Program } from './images.ts';
import type { ContainerSecurity } from './security.ts';

/** Probe is a container probe reduced to what the runner executes. */
export interface Probe {
  action:
    | { httpGet: { port: number; path: string; scheme: 'HTTP' | 'HTTPS' } }
    | { tcpSocket: { port: number } }
    | { exec: { command: string[] } };
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** VolumeMount is a node directory (or file) bind-mounted at a container path. */
export interface VolumeMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** ContainerPlan is one container: its program, environment and probes. */
export interface ContainerPlan {
  name: string;
  image: string;
  program: Program;
  env: Record<string, string>;
  workingDir?: string;
  /** security is enforced on exec programs (not on built-in demos, which run inside the runner). */
  security?: ContainerSecurity;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  /** mounts are the container's volumes (the runner mounts every container's in the pod's mount namespace). */
  mounts?: VolumeMount[];
}

/** PodPlan is everything a runner needs to run one pod. */
export interface PodPlan {
  namespace: string;
  name: string;
  podIP: string;
  /** socketPath is the port-forward shim's unix socket. */
  socketPath: string;
  /** logDir receives each container's stdout and stderr as `containers/<container>.log` (what `kubectl logs` would show). */
  logDir?: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** terminationGracePeriodSeconds is how long a stopped container has between SIGTERM and SIGKILL (default 30). */
  terminationGracePeriodSeconds?: number;
  containers: ContainerPlan[];
  /** stagingDir is an empty node directory the runner may mount a tmpfs on (overlays for missing mount points). */
  stagingDir?: string;
  /** serviceAccount is mounted at /var/run/secrets/kubernetes.io/serviceaccount (absent: automount disabled or no token). */
  serviceAccount?: { token: string; caCrt: string; namespace: string };
  /** resolvConf is the pod's resolv.conf on the host, bound over /etc/resolv.conf for every program the pod starts. */
  resolvConf?: string;
}

/** ContainerState mirrors core/v1 ContainerState. */
export type ContainerState =
  | { running: { startedAt: string } }
  | { waiting: { reason: string; message?: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; startedAt?: string; finishedAt: string } };

/** ContainerReport is the runner's view of one container, shaped like core/v1 ContainerStatus's dynamic fields. */
export interface ContainerReport {
  name: string;
  state: ContainerState;
  lastState?: ContainerState;
  ready: boolean;
  started: boolean;
  restartCount: number;
}

/** RunnerMessage is what a runner sends the kubelet. */
export type RunnerMessage = { type: 'status'; containers: ContainerReport[] } | { type: 'fatal'; message: string };
