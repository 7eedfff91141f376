// A control-socket client for adversarial tests, run as an unprivileged user
// (setpriv) inside a test network namespace. It plays a hostile daemon: it
// sends the given requests straight to a socket, optionally waits for a TUN
// descriptor on FD_SOCKET (holding it, so a device the helper made lives on
// while the routes are read), and prints one JSON line:
//   {"responses":[...],"routes":"<ip route + ip -6 route>","links":"<ip -o link>","gotFd":bool}
//
//   node control-peer.ts SOCKET FD_SOCKET|- '[{"method":"hello","params":null},...]'
// Bounded: it gives up after 10 s.
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { loadAddon } from '../../src/tun/addon.ts';

const [socketPath, fdSocket, requestsJson] = process.argv.slice(2);
const requests = JSON.parse(requestsJson ?? '[]') as { method: string; params: unknown }[];
let gotFd = false;
if (fdSocket && fdSocket !== '-') {
  loadAddon().receiveFd(fdSocket, 5000, (err) => {
    if (!err) gotFd = true;
  });
}

function routesAndLinks(): { routes: string; links: string } {
  const ip = (...a: string[]) => execFileSync('ip', a, { encoding: 'utf8' });
  return { routes: ip('route') + ip('-6', 'route'), links: ip('-o', 'link') };
}

function finish(responses: unknown[]): void {
  process.stdout.write(`${JSON.stringify({ responses, ...routesAndLinks(), gotFd })}\n`);
  process.exit(0);
}

const responses: unknown[] = [];
const sock = createConnection(socketPath as string);
const timer = setTimeout(() => finish([...responses, { timeout: true }]), 10_000);
let buf = '';
let next = 0;
const sendNext = () => {
  const r = requests[next];
  if (!r) {
    clearTimeout(timer);
    // Give a descriptor sent with the last answer a moment to arrive.
    setTimeout(() => finish(responses), 300);
    return;
  }
  next++;
  sock.write(`${JSON.stringify({ id: next, method: r.method, params: r.params })}\n`);
};
sock.on('connect', sendNext);
sock.on('data', (d) => {
  buf += d.toString('utf8');
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const msg = JSON.parse(line) as { id: unknown; progress?: unknown };
    if (msg.progress !== undefined) continue;
    responses.push(msg);
    if (msg.id === null) return finish(responses);
    sendNext();
  }
});
sock.on('error', (err) => finish([...responses, { socketError: err.message }]));
sock.on('close', () => finish(responses));
