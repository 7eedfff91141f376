import test from 'ava';
import { type Channel, type ChannelHost, StreamChannel } from './channel.ts';
import { SendScheduler } from './scheduler.ts';

/** rig makes a scheduler whose port records what it frames, and stream channels on it. */
function rig(sessionCredit: number) {
  const log: string[] = [];
  let full = false;
  const sched = new SendScheduler(
    {
      carrierFull: () => full,
      writeData: (ch: Channel, p: Uint8Array) => log.push(`DATA ${ch.id} ${p.byteLength}`),
      sendClose: (ch: Channel) => log.push(`CLOSE ${ch.id}`),
    },
    100,
  );
  sched.enabled = true;
  sched.startCredit(sessionCredit);
  const host = {
    schedule: (ch: StreamChannel) => sched.schedule(ch),
    sendClose: (ch: Channel) => log.push(`CLOSE ${ch.id}`),
  } as unknown as ChannelHost;
  const open = (id: number, credit: number): StreamChannel => {
    const req = {
      protocol: 'tcp' as const,
      host: '',
      port: 0,
      timeoutMs: 0,
      interceptId: '',
      sourceHost: '',
      sourcePort: 0,
    };
    const ch = new StreamChannel(host, id, req, 'open');
    ch.sendCredit = credit;
    return ch;
  };
  return { sched, log, open, setFull: (v: boolean) => (full = v) };
}

test('channels take turns, one frame each, within the largest payload', (t) => {
  const { sched, log, open } = rig(10_000);
  const a = open(1, 1000);
  const b = open(3, 1000);
  a.write(Buffer.alloc(250)); // sent at once: nobody else waits
  t.deepEqual(log.splice(0), ['DATA 1 100', 'DATA 1 100', 'DATA 1 50']);
  sched.startCredit(0);
  a.write(Buffer.alloc(150));
  b.write(Buffer.alloc(150));
  sched.grantSession(10_000);
  t.deepEqual(log.splice(0), ['DATA 1 100', 'DATA 3 100', 'DATA 1 50', 'DATA 3 50']);
});

test('a channel waiting for session credit holds back neither its own order nor another channel’s CLOSE', (t) => {
  const { sched, log, open } = rig(100);
  const a = open(1, 1000);
  const b = open(3, 1000);
  a.write(Buffer.alloc(150)); // 100 go out, 50 wait for session credit
  t.deepEqual(log.splice(0), ['DATA 1 100']);
  b.end(); // nothing queued on B: CLOSE now
  t.deepEqual(log.splice(0), ['CLOSE 3']);
  const c = open(5, 1000);
  c.write(Buffer.alloc(10));
  c.end(); // C's CLOSE waits behind C's own bytes
  t.deepEqual(log.splice(0), []);
  sched.grantSession(60);
  t.deepEqual(log.splice(0), ['DATA 1 50', 'DATA 5 10', 'CLOSE 5']);
});

test('a full carrier stops DATA until it drains; a channel without credit leaves the rotation', (t) => {
  const { sched, log, open, setFull } = rig(10_000);
  const a = open(1, 0);
  a.write(Buffer.alloc(10));
  t.is(sched.waiting, 0); // no channel credit: out of the rotation until a WINDOW
  t.is(sched.stalls.channelCredit, 1);
  setFull(true);
  const b = open(3, 1000);
  b.write(Buffer.alloc(10));
  t.deepEqual(log.splice(0), []);
  setFull(false);
  sched.carrierDrained();
  t.deepEqual(log.splice(0), ['DATA 3 10']);
  a.sendCredit = 10;
  sched.schedule(a);
  t.deepEqual(log.splice(0), ['DATA 1 10']);
});
