import test from 'ava';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { decodeProtobufObject } from './protobuf.ts';
import { ApiError } from './status.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** envelope builds a k8s protobuf body by hand: runtime.Unknown{typeMeta{apiVersion,kind}, raw}. */
function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  const tm = protobuf.Writer.create().uint32(10).string(apiVersion).uint32(18).string(kind).finish();
  w.uint32(10).bytes(tm).uint32(18).bytes(raw);
  return Buffer.concat([MAGIC, w.finish()]);
}

test('a Namespace and a Secret decode to their JSON forms', (t) => {
  // ObjectMeta{name=1:"dev", labels=11:{a:b}}; Namespace{metadata=1}
  const labels = protobuf.Writer.create().uint32(10).string('a').uint32(18).string('b').finish();
  const meta = protobuf.Writer.create().uint32(10).string('dev').uint32(90).bytes(labels).finish();
  const ns = protobuf.Writer.create().uint32(10).bytes(meta).finish();
  t.deepEqual(decodeProtobufObject(envelope('v1', 'Namespace', ns)), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'dev', labels: { a: 'b' } },
  });
  // Secret{metadata{name:"s"}, data=2:{pw: bytes "hunter2"}, type=3:"Opaque"}
  const entry = protobuf.Writer.create().uint32(10).string('pw').uint32(18).bytes(Buffer.from('hunter2')).finish();
  const smeta = protobuf.Writer.create().uint32(10).string('s').finish();
  const secret = protobuf.Writer.create()
    .uint32(10)
    .bytes(smeta)
    .uint32(18)
    .bytes(entry)
    .uint32(26)
    .string('Opaque')
    .finish();
  t.deepEqual(decodeProtobufObject(envelope('v1', 'Secret', secret)), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    data: { pw: Buffer.from('hunter2').toString('base64') },
    type: 'Opaque',
  });
});

test('unknown kinds are 415, bad envelopes 400, and random bytes never crash the decoder', (t) => {
  const err = t.throws(() => decodeProtobufObject(envelope('apps/v1', 'Deployment', new Uint8Array())));
  t.is((err as ApiError).code, 415);
  t.is((t.throws(() => decodeProtobufObject(Buffer.from('{}'))) as ApiError).code, 400);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withMagic) => {
      const body = withMagic ? Buffer.concat([MAGIC, bytes]) : Buffer.from(bytes);
      try {
        decodeProtobufObject(body);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
      }
    }),
    { numRuns: 500, seed: 3 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (raw) => {
      try {
        decodeProtobufObject(envelope('v1', 'ConfigMap', raw));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
      }
    }),
    { numRuns: 500, seed: 4 },
  );
});
