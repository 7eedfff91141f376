import test from 'ava';
import { GoAwayCode, type Hello } from './control.ts';
import { handshakeError, judgeHello, judgeWelcome } from './handshake.ts';

const hello: Hello = {
  minVersion: 1,
  maxVersion: 1,
  token: 't',
  clientName: 'c',
  clientId: 'id',
  initialChannelWindow: 1,
  initialSessionWindow: 1,
  identityKey: new Uint8Array(0),
};

test('a HELLO is judged: version first, then windows, then the token and the gateway’s own refusals', (t) => {
  t.deepEqual(
    judgeHello(hello, () => undefined),
    { ok: true, version: 1 },
  );
  t.like(
    judgeHello({ ...hello, minVersion: 7, maxVersion: 9 }, () => undefined),
    { ok: false, code: GoAwayCode.VERSION_MISMATCH },
  );
  t.like(
    judgeHello({ ...hello, initialSessionWindow: 0 }, () => undefined),
    { ok: false, code: GoAwayCode.PROTOCOL_ERROR },
  );
  t.like(
    judgeHello(hello, () => 'wrong'),
    { ok: false, code: GoAwayCode.UNAUTHENTICATED, message: 'wrong' },
  );
  t.like(
    judgeHello(hello, () => ({ code: GoAwayCode.LIMIT, message: 'full' })),
    { ok: false, code: GoAwayCode.LIMIT },
  );
});

test('a WELCOME outside the offered versions or with a zero window is refused', (t) => {
  const w = {
    version: 1,
    gatewayName: 'g',
    sessionId: 's',
    initialChannelWindow: 1,
    initialSessionWindow: 1,
    maxChannels: 0,
    challenge: new Uint8Array(0),
  };
  t.is(judgeWelcome(w, { min: 1, max: 1 }), undefined);
  t.like(judgeWelcome({ ...w, version: 2 }, { min: 1, max: 1 }), { code: GoAwayCode.VERSION_MISMATCH });
  t.like(judgeWelcome({ ...w, initialChannelWindow: 0 }, { min: 1, max: 1 }), { code: GoAwayCode.PROTOCOL_ERROR });
});

test('a refused handshake says what to do for token and version problems', (t) => {
  const e = handshakeError(GoAwayCode.UNAUTHENTICATED, 'refused');
  t.is(e.category, 'config');
  t.regex(e.hint ?? '', /gateway install/);
  t.is(handshakeError(undefined, undefined).code, GoAwayCode.PROTOCOL_ERROR);
});
