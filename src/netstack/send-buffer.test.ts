// SendBuffer against a plain byte array: whatever mix of large and small
// chunks is pushed and dropped, every slice returns exactly the bytes at its
// offset, within its part limit, and tiny writes share chunk objects.
import test from 'ava';
import { SendBuffer, SMALL_CHUNK } from './send-buffer.ts';

function xorshift(seed: number) {
  let x = seed;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

test('send buffer: slices match a byte-array model through pushes, drops and part limits', (t) => {
  const rnd = xorshift(0x5eed);
  const b = new SendBuffer();
  let model: number[] = [];
  let next = 0;
  for (let step = 0; step < 3000; step++) {
    const roll = rnd(10);
    if (roll < 6) {
      const size = rnd(4) === 0 ? SMALL_CHUNK + rnd(5000) : 1 + rnd(200);
      const chunk = new Uint8Array(size);
      for (let i = 0; i < size; i++) chunk[i] = next++ & 0xff;
      model = model.concat(Array.from(chunk));
      b.push(chunk);
      if (size < SMALL_CHUNK) chunk.fill(0); // small chunks are copied: the caller's later writes do not show
    } else if (roll < 8) {
      const n = rnd(model.length + 1);
      b.drop(n);
      model = model.slice(n);
    } else if (model.length > 0) {
      const off = rnd(model.length);
      const len = 1 + rnd(model.length - off);
      const maxParts = 1 + rnd(20);
      const parts = b.slice(off, len, maxParts);
      t.true(parts.length <= maxParts);
      const got = Buffer.concat(parts);
      if (!got.equals(Buffer.from(model.slice(off, off + len)))) {
        t.fail(`slice(${off}, ${len}) differs at step ${step}`);
        return;
      }
    }
    if (b.length !== model.length) {
      t.fail(`length ${b.length} vs ${model.length} at step ${step}`);
      return;
    }
  }
  t.pass();
});

test('send buffer: a million one-byte writes take a few hundred chunk objects, not a million', (t) => {
  const b = new SendBuffer();
  const one = new Uint8Array(1);
  for (let i = 0; i < 1_000_000; i++) {
    one[0] = i & 0xff;
    b.push(one);
  }
  t.is(b.length, 1_000_000);
  t.true(b.chunks < 100, `${b.chunks} chunks`);
  const parts = b.slice(999_990, 10);
  t.deepEqual(
    Array.from(Buffer.concat(parts)),
    Array.from({ length: 10 }, (_, i) => (999_990 + i) & 0xff),
  );
});
