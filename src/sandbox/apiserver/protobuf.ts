// Request bodies in Kubernetes' protobuf encoding, which kubectl's typed
// clients send (`kubectl create namespace|configmap|secret|serviceaccount`,
// `kubectl auth can-i`): a 4-byte magic "k8s\0", then a runtime.Unknown
// {typeMeta, raw} whose raw bytes are the object's message from the
// Kubernetes generated.proto files. Only the kinds listed in KINDS are
// decoded (their full field sets); any other kind gets 415 so the client
// learns to send JSON. Answers are always JSON, which those clients accept.
import protobuf from 'protobufjs';
import type { KubeObject } from './object.ts';
import { ApiError } from './status.ts';

/** PROTOBUF_MEDIA_TYPE is the Content-Type of protobuf bodies. */
export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Record<string, { type: string; id: number; rule?: 'repeated'; keyType?: string }>;
const str = (id: number) => ({ type: 'string', id });
const strs = (id: number) => ({ type: 'string', id, rule: 'repeated' as const });
const map = (id: number, type = 'string') => ({ keyType: 'string', type, id });
const msg = (type: string, id: number, repeated = false) =>
  repeated ? { type, id, rule: 'repeated' as const } : { type, id };

// Field numbers from k8s.io/api and k8s.io/apimachinery generated.proto.
const MESSAGES: Record<string, Fields> = {
  Unknown: {
    typeMeta: msg('TypeMeta', 1),
    raw: { type: 'bytes', id: 2 },
    contentEncoding: str(3),
    contentType: str(4),
  },
  TypeMeta: { apiVersion: str(1), kind: str(2) },
  Time: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } },
  OwnerReference: {
    kind: str(1),
    name: str(3),
    uid: str(4),
    apiVersion: str(5),
    controller: { type: 'bool', id: 6 },
    blockOwnerDeletion: { type: 'bool', id: 7 },
  },
  ObjectMeta: {
    name: str(1),
    generateName: str(2),
    namespace: str(3),
    selfLink: str(4),
    uid: str(5),
    resourceVersion: str(6),
    generation: { type: 'int64', id: 7 },
    creationTimestamp: msg('Time', 8),
    deletionTimestamp: msg('Time', 9),
    deletionGracePeriodSeconds: { type: 'int64', id: 10 },
    labels: map(11),
    annotations: map(12),
    ownerReferences: msg('OwnerReference', 13, true),
    finalizers: strs(14),
  },
  LocalObjectReference: { name: str(1) },
  ObjectReference: {
    kind: str(1),
    namespace: str(2),
    name: str(3),
    uid: str(4),
    apiVersion: str(5),
    resourceVersion: str(6),
    fieldPath: str(7),
  },
  NamespaceSpec: { finalizers: strs(1) },
  NamespaceStatus: { phase: str(1) },
  Namespace: { metadata: msg('ObjectMeta', 1), spec: msg('NamespaceSpec', 2), status: msg('NamespaceStatus', 3) },
  ConfigMap: {
    metadata: msg('ObjectMeta', 1),
    data: map(2),
    binaryData: map(3, 'bytes'),
    immutable: { type: 'bool', id: 4 },
  },
  Secret: {
    metadata: msg('ObjectMeta', 1),
    data: map(2, 'bytes'),
    type: str(3),
    stringData: map(4),
    immutable: { type: 'bool', id: 5 },
  },
  ServiceAccount: {
    metadata: msg('ObjectMeta', 1),
    secrets: msg('ObjectReference', 2, true),
    imagePullSecrets: msg('LocalObjectReference', 3, true),
    automountServiceAccountToken: { type: 'bool', id: 4 },
  },
  ResourceAttributes: {
    namespace: str(1),
    verb: str(2),
    group: str(3),
    version: str(4),
    resource: str(5),
    subresource: str(6),
    name: str(7),
  },
  NonResourceAttributes: { path: str(1), verb: str(2) },
  SelfSubjectAccessReviewSpec: {
    resourceAttributes: msg('ResourceAttributes', 1),
    nonResourceAttributes: msg('NonResourceAttributes', 2),
  },
  SelfSubjectAccessReview: { metadata: msg('ObjectMeta', 1), spec: msg('SelfSubjectAccessReviewSpec', 2) },
};

/** KINDS maps "apiVersion/kind" to the message type decoded for it. */
const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'authorization.k8s.io/v1/SelfSubjectAccessReview': 'SelfSubjectAccessReview',
};

const root = protobuf.Root.fromJSON({
  nested: Object.fromEntries(Object.entries(MESSAGES).map(([name, fields]) => [name, { fields }])),
});

function rfc3339(t: unknown): string | undefined {
  const s = (t as { seconds?: number } | undefined)?.seconds;
  return typeof s === 'number' && s > 0 ? `${new Date(s * 1000).toISOString().slice(0, 19)}Z` : undefined;
}

function unsupported(what: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json (protobuf is accepted for ${Object.keys(KINDS).join(', ')}; got ${what})`,
  );
}

/** decodeProtobufObject decodes a protobuf request body into the object's JSON form, or throws 400/415. */
export function decodeProtobufObject(buf: Buffer): KubeObject {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC))
    throw new ApiError(400, 'BadRequest', 'protobuf body does not start with the "k8s\\x00" prefix');
  let unknown: { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
  try {
    unknown = root
      .lookupType('Unknown')
      .toObject(root.lookupType('Unknown').decode(buf.subarray(MAGIC.length))) as typeof unknown;
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `error decoding protobuf body: ${(err as Error).message}`);
  }
  const apiVersion = unknown.typeMeta?.apiVersion ?? '';
  const kind = unknown.typeMeta?.kind ?? '';
  const typeName = KINDS[`${apiVersion}/${kind}`];
  if (!typeName) throw unsupported(`${apiVersion}/${kind}`);
  const type = root.lookupType(typeName);
  let obj: KubeObject;
  try {
    obj = type.toObject(type.decode(unknown.raw ?? new Uint8Array()), { longs: Number, bytes: String }) as KubeObject;
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `error decoding protobuf ${kind}: ${(err as Error).message}`);
  }
  obj.metadata ??= {};
  for (const f of ['creationTimestamp', 'deletionTimestamp'] as const) {
    const t = rfc3339(obj.metadata[f]);
    if (t) obj.metadata[f] = t;
    else delete obj.metadata[f];
  }
  return { apiVersion, kind, ...obj };
}
