// The gateway process: `node src/gateway/main.ts [flags]` (see config.ts),
// or `node src/gateway/main.ts intercept` for an intercept pod (src/intercept/agent.ts).
// It only wires: config → logger, resolver, metrics → GatewayServer and the
// health server; SIGTERM/SIGINT → GOAWAY, drain, exit.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import pino from 'pino';
import { DevnetError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { gatewayDenyList, ownAddresses, parseGatewayConfig } from './config.ts';
import { startHealthServer } from './health.ts';
import { detectIcmp } from './icmp.ts';
import { InterceptRelay } from './intercept-relay.ts';
import { GatewayMetrics } from './metrics.ts';
import { parseResolvConf } from './resolv-conf.ts';
import { PodResolver } from './resolver.ts';
import { GatewayServer } from './server.ts';

async function main(): Promise<void> {
  let cfg: ReturnType<typeof parseGatewayConfig>;
  try {
    cfg = parseGatewayConfig(process.argv.slice(2), process.env, (p) => readFileSync(p, 'utf8'));
  } catch (err) {
    const e = err as DevnetError;
    process.stderr.write(`devnet-gateway: ${e.message}\n${e instanceof DevnetError && e.hint ? `${e.hint}\n` : ''}`);
    process.exit(2);
  }
  const log = pino({ level: cfg.logLevel, base: { component: 'gateway', version: VERSION } });
  let resolver: PodResolver | undefined;
  try {
    resolver = new PodResolver({ conf: parseResolvConf(readFileSync(cfg.resolvConf, 'utf8')), port: cfg.dnsPort });
    log.info({ resolvConf: cfg.resolvConf, ...resolver.conf }, 'resolver configuration');
  } catch (err) {
    log.warn({ err, resolvConf: cfg.resolvConf }, 'no resolver configuration: DNS queries will fail');
  }
  const icmp = detectIcmp();
  log.info({ icmp }, 'ICMP echo support');
  const metrics = new GatewayMetrics();
  const gw = new GatewayServer({
    token: cfg.token,
    logger: log,
    metrics,
    resolver,
    icmp,
    deny: gatewayDenyList(cfg.deny, ownAddresses(networkInterfaces())),
    maxSessions: cfg.maxSessions,
    sessionLimits: { maxChannels: cfg.maxChannels },
    tcpKeepaliveMs: cfg.tcpKeepaliveMs,
  });
  const tunnel = await gw.listen(cfg.listen.host, cfg.listen.port);
  log.info({ address: tunnel }, 'tunnel listener ready');
  if (cfg.directListen) {
    const direct = await gw.listenTls(
      cfg.directListen.host,
      cfg.directListen.port,
      cfg.tls as { cert: string; key: string },
    );
    log.info({ address: direct }, 'direct listener ready');
  }
  let relay: InterceptRelay | undefined;
  if (cfg.interceptListen) {
    relay = new InterceptRelay({ token: cfg.token, registry: gw.intercepts, logger: log });
    await relay.listen(cfg.interceptListen.host, cfg.interceptListen.port);
    log.info({ address: cfg.interceptListen }, 'intercept listener ready');
  }
  const health = await startHealthServer(cfg.healthListen.host, cfg.healthListen.port, gw, metrics);
  log.info({ address: health.address }, 'health and metrics listener ready');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    relay?.close();
    gw.shutdown(cfg.drainTimeoutMs).finally(() => {
      health.server.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const run = process.argv[2] === 'intercept' ? () => import('../intercept/agent.ts').then((m) => m.main()) : main;
run().catch((err: unknown) => {
  process.stderr.write(`devnet-gateway: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
