// The shape of stored Kubernetes objects. The API server is schemaless: it
// keeps whatever JSON a client sends and reads only the fields it defaults,
// validates, selects on or prints, checking each where it is read.

/** ObjectMeta is the part of metadata the server reads and writes. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  finalizers?: string[];
  [field: string]: unknown;
}

/** KubeObject is one stored object: metadata is typed, every other field is free JSON. */
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are schemaless JSON here; fields are checked where read.
export type KubeObject = { apiVersion?: string; kind?: string; metadata: ObjectMeta; [field: string]: any };

/** isPlainObject tells a JSON object from arrays, null and scalars. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** clone deep-copies a JSON value. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** nowTimestamp renders a time as Kubernetes does (RFC 3339, whole seconds, UTC). */
export function nowTimestamp(ms: number = Date.now()): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** objectKey identifies an object within its type: "namespace/name" ("/name" when cluster-scoped). */
export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}
