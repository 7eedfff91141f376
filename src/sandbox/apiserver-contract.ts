// The API server's interface, as promised by src/sandbox/apiserver/ (built
// on its own branch). Loaded at run time so this side builds before that
// one lands; the types here are the contract both sides agreed on.
import type { Logger } from 'pino';

/** ApiServerOptions are startApiServer's options. */
export interface ApiServerOptions {
  stateDir: string;
  runDir: string;
  host?: string;
  port?: number;
  logger: Logger;
}

/** ApiServerHandle is a running API server. */
export interface ApiServerHandle {
  url: string;
  caCertPath: string;
  caCertPem: string;
  tokens: { admin: string; dev: string };
  close(): Promise<void> | void;
}

/** startApiServer starts the sandbox API server from src/sandbox/apiserver/index.ts. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServerHandle> {
  const url = new URL('./apiserver/index.ts', import.meta.url).href;
  const mod = (await import(url)) as { startApiServer(o: ApiServerOptions): Promise<ApiServerHandle> };
  return mod.startApiServer(opts);
}
