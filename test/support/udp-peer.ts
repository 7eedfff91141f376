// udp-peer plays the OS side of a TUN test from inside a network namespace:
//   udp-peer roundtrip HOST PORT COUNT SIZE TIMEOUT_MS  send COUNT datagrams, await their echoes
//   udp-peer flood HOST PORT COUNT SIZE                 send COUNT datagrams and exit
// Payloads are deterministic (index + pattern) so echoes are checked byte for byte.
// Prints one JSON line: {"sent":n,"received":n,"mismatched":n}.
import { createSocket } from 'node:dgram';

const [mode, host, portS, countS, sizeS, timeoutS] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const size = Number(sizeS);

function payload(i: number): Buffer {
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j * 7) & 0xff;
  if (size >= 4) b.writeUInt32BE(i, 0);
  return b;
}

const sock = createSocket('udp4');
sock.bind(0, () => {
  sock.setSendBufferSize(8 << 20);
  sock.setRecvBufferSize(8 << 20);
  let received = 0;
  let mismatched = 0;
  const done = () => {
    process.stdout.write(`${JSON.stringify({ sent: count, received, mismatched })}\n`);
    sock.close();
  };
  sock.on('message', (msg) => {
    const i = msg.length >= 4 ? msg.readUInt32BE(0) : 0;
    if (msg.equals(payload(i))) received++;
    else mismatched++;
    if (received + mismatched === count) done();
  });
  let i = 0;
  const sendNext = () => {
    if (i === count) {
      if (mode === 'flood') done();
      else setTimeout(done, Number(timeoutS)).unref();
      return;
    }
    sock.send(payload(i++), port, host, sendNext);
  };
  sendNext();
});
