// The contract between the pod runner and a built-in demo server: a demo
// is a function of its container's environment and arguments, run inside
// the pod's network namespace, that listens and can be closed.

/** DemoContext is what a container gets: its environment and arguments. */
export interface DemoContext {
  env: Record<string, string>;
  args: string[];
}

/** RunningDemo is a started demo server. */
export interface RunningDemo {
  /** close stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Demo starts a demo server; it rejects if it cannot listen. */
export type Demo = (ctx: DemoContext) => Promise<RunningDemo>;

/** envPort reads a port from the environment, falling back to a default. */
export function envPort(env: Record<string, string>, name: string, fallback: number): number {
  const n = Number(env[name]);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}
