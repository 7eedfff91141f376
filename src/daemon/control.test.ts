import { mkdtemp } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { DevnetError } from '../errors.ts';
import { ControlClient, MAX_LINE, serveControl } from './control.ts';

const log = pino({ level: 'silent' });

async function server() {
  const path = join(await mkdtemp(join(tmpdir(), 'devnet-ctl-')), 'ctl.sock');
  const srv = await serveControl(
    {
      echo: async (params, progress) => {
        progress('working');
        return params;
      },
      fail: async () => {
        throw new DevnetError('cluster', 'the gateway is not ready', { hint: 'wait' });
      },
    },
    { path, logger: log },
  );
  return { path, srv };
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
  const c = await ControlClient.connect(path, 'not running');
  const progress: string[] = [];
  t.deepEqual(await c.call('echo', { a: 1 }, (m) => progress.push(m)), { a: 1 });
  t.deepEqual(progress, ['working']);
  c.close();
  srv.close();
});

test('errors keep their category and hint across the socket', async (t) => {
  const { path, srv } = await server();
  const c = await ControlClient.connect(path, 'not running');
  const err = await t.throwsAsync(c.call('fail'));
  t.true(err instanceof DevnetError);
  t.like(err, { category: 'cluster', message: 'the gateway is not ready', hint: 'wait' });
  const unknown = await t.throwsAsync(c.call('nope'));
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
  const c = await ControlClient.connect(path, 'not running');
  await t.throwsAsync(c.call('__proto__'), { message: /unknown control method/ });
  t.deepEqual(await c.call('echo', 'still here'), 'still here');
  c.close();
  srv.close();
});

test('a missing socket means devnet is not running', async (t) => {
  const err = await t.throwsAsync(
    ControlClient.connect('/nonexistent/devnet.sock', 'devnet is not connected', 'run devnet connect'),
  );
  t.like(err, { category: 'user', message: 'devnet is not connected', hint: 'run devnet connect' });
});
