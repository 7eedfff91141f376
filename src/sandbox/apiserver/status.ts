// Kubernetes Status errors (metav1.Status) with the exact reasons, codes and
// message wording of k8s.io/apimachinery/pkg/api/errors, which clients
// parse (kubectl prints `Error from server (Reason): message`).
import { qualifiedResource, type ResourceType } from './resources.ts';

/** StatusCause is one entry of details.causes (field validation failures). */
export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

/** StatusDetails names the object an error is about. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** ApiError is a failure the server answers with a Status body and its code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** status renders the error as a metav1.Status object. */
  status(): Record<string, unknown> {
    const s: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
    };
    if (this.details !== undefined) s.details = this.details;
    s.code = this.code;
    return s;
  }
}

function details(type: ResourceType, name: string | undefined): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined && name !== '') d.name = name;
  if (type.group !== '') d.group = type.group;
  d.kind = type.resource;
  return d;
}

/** notFound is `services "foo" not found`. */
export function notFound(type: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, details(type, name));
}

/** alreadyExists is `services "foo" already exists`. */
export function alreadyExists(type: ResourceType, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, details(type, name));
}

/** conflict is the optimistic-concurrency failure for a stale resourceVersion. */
export function conflict(type: ResourceType, name: string, why?: string): ApiError {
  const reason = why ?? 'the object has been modified; please apply your changes to the latest version and try again';
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${reason}`,
    details(type, name),
  );
}

/** forbidden is the RBAC denial, worded like apierrors.NewForbidden over the authorization filter's message. */
export function forbidden(group: string, resource: string, name: string | undefined, message: string): ApiError {
  const qualified = group === '' ? resource : `${resource}.${group}`;
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (group !== '') d.group = group;
  if (resource !== '') d.kind = resource;
  const text =
    resource === ''
      ? `forbidden: ${message}`
      : name
        ? `${qualified} "${name}" is forbidden: ${message}`
        : `${qualified} is forbidden: ${message}`;
  return new ApiError(403, 'Forbidden', text, d);
}

/** unauthorized is the 401 for a missing or unknown bearer token. */
export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/** badRequest is a 400 with the given message. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** methodNotAllowed is the 405 for a verb the path does not support. */
export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/** pathNotFound is the 404 for a URL that names no resource. */
export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

/** expired is the 410 sent as a watch ERROR event when the requested resourceVersion is compacted away. */
export function expired(rv: string, oldest: number): ApiError {
  return new ApiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);
}

/** unsupportedMediaType is the 415 for a body format the server cannot read. */
export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** requestEntityTooLarge is the 413 for a body over the limit. */
export function requestEntityTooLarge(limit: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

/** internalError is the 500 for a bug, never leaking a stack. */
export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}

/** FieldError is one validation failure, rendered like field.Error. */
export interface FieldError {
  type: 'Required' | 'Invalid' | 'Duplicate' | 'NotSupported' | 'Forbidden' | 'TooLong';
  field: string;
  /** value is the offending value, rendered Go-style in the message (omitted for Required/Forbidden). */
  value?: unknown;
  detail: string;
}

const CAUSE_REASON: Record<FieldError['type'], string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  Duplicate: 'FieldValueDuplicate',
  NotSupported: 'FieldValueNotSupported',
  Forbidden: 'FieldValueForbidden',
  TooLong: 'FieldValueTooLong',
};

const TYPE_TEXT: Record<FieldError['type'], string> = {
  Required: 'Required value',
  Invalid: 'Invalid value',
  Duplicate: 'Duplicate value',
  NotSupported: 'Unsupported value',
  Forbidden: 'Forbidden',
  TooLong: 'Too long',
};

/** goValue renders a value the way Go's %#v does in field errors for the shapes we report. */
export function goValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string'))
    return `[]string{${v.map((x) => JSON.stringify(x)).join(', ')}}`;
  if (v !== null && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string')) {
    const entries = Object.entries(v as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `map[string]string{${entries.map(([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

function fieldErrorText(e: FieldError): string {
  const head = `${TYPE_TEXT[e.type]}`;
  const withValue = e.type === 'Invalid' || e.type === 'Duplicate' || e.type === 'NotSupported';
  const body = withValue ? `${head}: ${goValue(e.value)}` : head;
  return e.detail ? `${body}: ${e.detail}` : body;
}

/** invalid is the 422 `Service "foo" is invalid: spec.x: Invalid value: ...` with details.causes (kind overrides the type's, e.g. Scale). */
export function invalid(type: ResourceType, name: string, errors: FieldError[], kind = type.kind): ApiError {
  const parts = errors.map((e) => `${e.field}: ${fieldErrorText(e)}`);
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const d = details(type, name);
  d.kind = kind;
  d.causes = errors.map((e) => ({ reason: CAUSE_REASON[e.type], message: fieldErrorText(e), field: e.field }));
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, d);
}

/** successStatus is the Status a DELETE answers with for types that do not return the object. */
export function successStatus(type: ResourceType, name: string, uid: string | undefined): Record<string, unknown> {
  const d = details(type, name);
  if (uid) d.uid = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: d };
}
