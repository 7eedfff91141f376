import test from 'ava';
import type { StackStream, StreamChannel } from '../netstack/upstream.ts';
import { MAX_OUTSTANDING, MAX_PENDING, serveDnsStream } from './dns-stream.ts';

/** App is the app's side of the TCP flow as the stack presents it. */
class App implements StackStream {
  side: StreamChannel | undefined;
  credit = 0;
  got = Buffer.alloc(0);
  ended = false;
  accept(c: StreamChannel): void {
    this.side = c;
  }
  reject(): void {}
  grant(n: number): void {
    this.credit += n;
  }
  write(d: Uint8Array): void {
    this.got = Buffer.concat([this.got, d]);
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {}
  /** messages splits what the app received into DNS messages. */
  messages(): string[] {
    const out: string[] = [];
    for (let b = this.got; b.length >= 2 && b.length >= 2 + b.readUInt16BE(0); b = b.subarray(2 + b.readUInt16BE(0)))
      out.push(b.subarray(2, 2 + b.readUInt16BE(0)).toString());
    return out;
  }
}

const frame = (s: string): Buffer => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);
const turns = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('pipelined queries are answered, each framed with its length, and the stream ends after the last answer', async (t) => {
  const app = new App();
  serveDnsStream(app, (q) => Buffer.from(`answer:${Buffer.from(q)}`));
  t.is(app.credit, MAX_PENDING);
  app.side?.grant(1 << 20);
  const q = Buffer.concat([frame('a'), frame('bb'), frame('ccc')]);
  app.side?.write(q.subarray(0, 5)); // split anywhere
  app.side?.write(q.subarray(5));
  app.side?.end();
  await turns();
  t.deepEqual(app.messages().sort(), ['answer:a', 'answer:bb', 'answer:ccc']);
  t.true(app.ended);
  t.is(app.credit, MAX_PENDING + q.length); // the query bytes came back once answered
});

test('answers wait for the app’s window; queries beyond MAX_OUTSTANDING wait for answers to be read', async (t) => {
  const app = new App();
  let asked = 0;
  serveDnsStream(app, (q) => {
    asked++;
    return Buffer.from(q);
  });
  const queries = Array.from({ length: 40 }, (_, i) => frame(`q${i}`));
  app.side?.write(Buffer.concat(queries));
  await turns();
  t.is(asked, MAX_OUTSTANDING);
  t.is(app.got.length, 0);
  app.side?.grant(1 << 20); // the app reads: answers go out and the rest is asked
  await turns(50);
  t.is(asked, 40);
  t.is(app.messages().length, 40);
});

test('a query that gets no answer frees its place as well', async (t) => {
  const app = new App();
  serveDnsStream(app, () => undefined);
  app.side?.write(Buffer.concat(Array.from({ length: 40 }, () => frame('x'))));
  await turns(50);
  t.is(app.credit, MAX_PENDING + 40 * 3);
});
