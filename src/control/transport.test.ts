import { mkdtemp } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { z } from 'zod';
import { DevnetError } from '../errors.ts';
import { ControlClient, MAX_LINE, serveControl } from './transport.ts';

const log = pino({ level: 'silent' });

const PROTOCOL = {
  echo: { params: z.unknown(), result: z.unknown() },
  add: { params: z.strictObject({ a: z.int(), b: z.int() }), result: z.int() },
  lie: { params: z.null(), result: z.strictObject({ ok: z.boolean() }) },
  fail: { params: z.null(), result: z.null() },
};

async function server() {
  const path = join(await mkdtemp(join(tmpdir(), 'devnet-ctl-')), 'ctl.sock');
  let handled = 0;
  const srv = await serveControl(
    PROTOCOL,
    {
      echo: async (params, progress) => {
        handled++;
        progress('working');
        return params;
      },
      add: async ({ a, b }) => {
        handled++;
        return a + b;
      },
      // A peer whose answer does not fit the schema the caller expects.
      lie: async () => ({ ok: 'yes' }) as unknown as { ok: boolean },
      fail: async () => {
        throw new DevnetError('cluster', 'the gateway is not ready', { hint: 'wait' });
      },
    },
    { path, logger: log },
  );
  return { path, srv, handled: () => handled };
}

function raw(path: string, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.write(data);
  });
}

test('a call returns its result after its progress lines', async (t) => {
  const { path, srv } = await server();
  const c = await ControlClient.connect(PROTOCOL, path, 'not running');
  const progress: string[] = [];
  t.deepEqual(await c.call('echo', { a: 1 }, (m) => progress.push(m)), { a: 1 });
  t.deepEqual(progress, ['working']);
  c.close();
  srv.close();
});

test('errors keep their category and hint across the socket', async (t) => {
  const { path, srv } = await server();
  const c = await ControlClient.connect(PROTOCOL, path, 'not running');
  const err = await t.throwsAsync(c.call('fail', null));
  t.true(err instanceof DevnetError);
  t.like(err, { category: 'cluster', message: 'the gateway is not ready', hint: 'wait' });
  const unknown = await t.throwsAsync(c.call('nope' as 'fail', null));
  t.like(unknown, { category: 'user', message: 'unknown control method "nope"' });
  c.close();
  srv.close();
});

test('garbage, wrong shapes and over-long lines get one error and a clean close; the server keeps serving', async (t) => {
  const { path, srv } = await server();
  t.regex(
    await raw(path, 'this is not json\n'),
    /"error":\{"category":"user","message":"control message is not JSON"\}/,
  );
  t.regex(await raw(path, '{"method":7}\n'), /needs an integer \\"id\\"/);
  t.regex(await raw(path, '[1,2,3]\n'), /needs an integer \\"id\\"/);
  t.regex(await raw(path, Buffer.alloc(MAX_LINE + 10, 0x41)), /longer than/);
  const c = await ControlClient.connect(PROTOCOL, path, 'not running');
  await t.throwsAsync(c.call('__proto__' as 'fail', null), { message: /unknown control method/ });
  t.deepEqual(await c.call('echo', 'still here'), 'still here');
  c.close();
  srv.close();
});

test('a missing socket means devnet is not running', async (t) => {
  const err = await t.throwsAsync(
    ControlClient.connect(PROTOCOL, '/nonexistent/devnet.sock', 'devnet is not connected', 'run devnet connect'),
  );
  t.like(err, { category: 'user', message: 'devnet is not connected', hint: 'run devnet connect' });
});

test("params that do not fit the method's schema are refused before any handler runs, naming the field", async (t) => {
  const { path, srv, handled } = await server();
  const c = await ControlClient.connect(PROTOCOL, path, 'not running');
  await t.throwsAsync(c.call('add', { a: 1, b: 'two' } as unknown as { a: number; b: number }), {
    message: /^add refused: b: .*number/,
  });
  await t.throwsAsync(c.call('add', { a: 1, b: 2, evil: true } as unknown as { a: number; b: number }), {
    message: /add refused: .*evil/,
  });
  t.is(handled(), 0);
  t.is(await c.call('add', { a: 1, b: 2 }), 3);
  c.close();
  srv.close();
});

test('an answer that does not fit the schema the caller expects is an error, not a value', async (t) => {
  const { path, srv } = await server();
  const c = await ControlClient.connect(PROTOCOL, path, 'not running');
  await t.throwsAsync(c.call('lie', null), {
    message: /the answer to lie does not fit its schema: ok: /,
    instanceOf: DevnetError,
  });
  c.close();
  srv.close();
});
