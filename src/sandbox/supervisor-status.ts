// What the supervisor reports and where: status.json (phase, API URL,
// counters) and the standalone kubeconfig. Kept apart from supervisor.ts so
// the CLI reads them without loading the API server and node agent.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runFile, type SandboxPaths } from './paths.ts';

/** SupervisorStatus is what status.json says, for `up` and `status`. */
export interface SupervisorStatus {
  pid: number;
  phase: 'starting' | 'ready' | 'failed' | 'stopping';
  message?: string;
  url?: string;
  kubeconfig?: string;
  startedAt: string;
  readyAt?: string;
  dns?: { queries: number; malformed: number };
  runners?: number;
}

/** statusFile is where the supervisor reports its state. */
export function statusFile(p: SandboxPaths): string {
  return runFile(p, 'status.json');
}

/** kubeconfigFile is the standalone kubeconfig's path. */
export function kubeconfigFile(p: SandboxPaths): string {
  return join(p.stateDir, 'kubeconfig');
}

/** readStatus reads the supervisor's status.json, if any. */
export function readStatus(p: SandboxPaths): SupervisorStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusFile(p), 'utf8')) as SupervisorStatus;
  } catch {
    return undefined;
  }
}
