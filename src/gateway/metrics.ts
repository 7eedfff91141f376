// Gateway metrics in Prometheus format (prom-client), on a registry of their
// own (no global default registry).
import { Counter, Gauge, Registry } from 'prom-client';

/** GatewayMetrics are the gateway's counters and gauges. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly sessions = new Gauge({
    name: 'devnet_gateway_sessions',
    help: 'Tunnel sessions open now',
    registers: [this.registry],
  });
  readonly sessionsTotal = new Counter({
    name: 'devnet_gateway_sessions_total',
    help: 'Tunnel connection attempts by result (ok, or the GOAWAY code that refused them)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly channels = new Gauge({
    name: 'devnet_gateway_channels',
    help: 'Channels open now by protocol',
    labelNames: ['protocol'],
    registers: [this.registry],
  });
  readonly opens = new Counter({
    name: 'devnet_gateway_channel_opens_total',
    help: 'OPEN requests by protocol and result (ok or the reject reason)',
    labelNames: ['protocol', 'result'],
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'devnet_gateway_bytes_total',
    help: 'Channel payload bytes by direction (up: laptop to cluster)',
    labelNames: ['direction'],
    registers: [this.registry],
  });
  readonly dnsQueries = new Counter({
    name: 'devnet_gateway_dns_queries_total',
    help: 'DNS queries by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly sessionEnds = new Counter({
    name: 'devnet_gateway_session_ends_total',
    help: 'Sessions ended, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
}
