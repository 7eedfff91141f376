// Opening sockets inside another network namespace from a process that
// stays in the host's: a short-lived child started with `ip netns exec`
// binds them and hands them over the IPC channel (child_process can send
// net.Server and dgram.Socket handles), then exits. A socket keeps the
// namespace it was created in, so the supervisor serves cluster DNS inside
// the node namespace without a resident process there.
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/** bindInNetns opens a TCP listener, and a UDP socket unless tcpOnly, on host:port inside a network namespace. */
export function bindInNetns(netns: string, host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server }>;
export function bindInNetns(netns: string, host: string, port: number, tcpOnly: true): Promise<{ tcp: Server }>;
export function bindInNetns(
  netns: string,
  host: string,
  port: number,
  tcpOnly = false,
): Promise<{ udp?: UdpSocket; tcp: Server }> {
  return new Promise((resolve, reject) => {
    const args = [host, String(port), tcpOnly ? 'tcp' : 'udp+tcp'];
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, import.meta.filename, ...args], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    let udp: UdpSocket | undefined;
    let tcp: Server | undefined;
    child.on('message', (m, handle) => {
      if (m === 'udp') udp = handle as UdpSocket;
      if (m === 'tcp') tcp = handle as unknown as Server;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (tcp && (udp || tcpOnly)) resolve(udp ? { udp, tcp } : { tcp });
      else reject(new Error(`binding ${host}:${port} in ${netns} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

async function main(): Promise<void> {
  const [host, portText, protocols] = process.argv.slice(2);
  const port = Number(portText);
  const send = (m: string, h: UdpSocket | Server) =>
    new Promise<void>((resolve) => process.send?.(m, h, () => resolve()));
  if (protocols !== 'tcp') {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => resolve());
    });
    await send('udp', udp);
    udp.close();
  }
  const tcp = createServer({ pauseOnConnect: false });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  await send('tcp', tcp);
  tcp.close();
  process.disconnect();
}

if (import.meta.main) await main();
