// The three patch formats the API server accepts:
// - JSON Patch (RFC 6902) with JSON Pointers (RFC 6901);
// - JSON Merge Patch (RFC 7386);
// - Kubernetes strategic merge patch for the fields devnet uses: maps merge,
//   lists with a merge key (containers by name, ports by port/containerPort,
//   env by name, ...) merge per element, `$patch: delete|replace`,
//   `$retainKeys`, `$deleteFromPrimitiveList/<f>`; `$setElementOrder/<f>`
//   is accepted and ignored (order follows the patch's merge rules).
// Each function returns the patched document or throws PatchError.
import { isPlainObject } from './object.ts';

/** PatchError is a patch that cannot be decoded (bad=true, a 400) or applied (a 422). */
export class PatchError extends Error {
  readonly undecodable: boolean;
  constructor(message: string, undecodable = false) {
    super(message);
    this.name = 'PatchError';
    this.undecodable = undecodable;
  }
}

type Json = unknown;

function parsePointer(p: unknown): string[] {
  if (typeof p !== 'string') throw new PatchError('path must be a string', true);
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer "${p}"`, true);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: Json[], tok: string, forAdd: boolean): number {
  if (forAdd && tok === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw new PatchError(`invalid array index "${tok}"`);
  const i = Number(tok);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`array index ${i} out of bounds`);
  return i;
}

function parentOf(doc: Json, path: string[]): { parent: Json; last: string } {
  let cur = doc;
  for (const tok of path.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, tok, false)];
    else if (isPlainObject(cur) && Object.hasOwn(cur, tok)) cur = cur[tok];
    else throw new PatchError(`doc is missing path: "/${path.join('/')}"`);
  }
  return { parent: cur, last: path[path.length - 1]! };
}

function getAt(doc: Json, path: string[]): Json {
  let cur = doc;
  for (const tok of path) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, tok, false)];
    else if (isPlainObject(cur) && Object.hasOwn(cur, tok)) cur = cur[tok];
    else throw new PatchError(`doc is missing path: "/${path.join('/')}"`);
  }
  return cur;
}

function addAt(doc: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const { parent, last } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else if (isPlainObject(parent)) parent[last] = value;
  else throw new PatchError(`doc is missing path: "/${path.join('/')}"`);
  return doc;
}

function removeAt(doc: Json, path: string[]): Json {
  if (path.length === 0) throw new PatchError('cannot remove the whole document');
  const { parent, last } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (isPlainObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** applyJsonPatch applies an RFC 6902 operation list to a copy of doc. */
export function applyJsonPatch(doc: Json, patch: Json): Json {
  if (!Array.isArray(patch)) throw new PatchError('json patch must be an array of operations', true);
  let out = structuredClone(doc);
  for (const op of patch) {
    if (!isPlainObject(op) || typeof op.op !== 'string') throw new PatchError('invalid JSON patch operation', true);
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        if (!Object.hasOwn(op, 'value')) throw new PatchError('add operation does not have a value', true);
        out = addAt(out, path, structuredClone(op.value));
        break;
      case 'remove':
        out = removeAt(out, path);
        break;
      case 'replace':
        if (!Object.hasOwn(op, 'value')) throw new PatchError('replace operation does not have a value', true);
        getAt(out, path);
        if (path.length === 0) out = structuredClone(op.value);
        else {
          out = removeAt(out, path);
          out = addAt(out, path, structuredClone(op.value));
        }
        break;
      case 'move': {
        const from = parsePointer(op.from);
        const v = getAt(out, from);
        out = removeAt(out, from);
        out = addAt(out, path, v);
        break;
      }
      case 'copy':
        out = addAt(out, path, structuredClone(getAt(out, parsePointer(op.from))));
        break;
      case 'test':
        if (!deepEqual(getAt(out, path), op.value)) throw new PatchError(`testing value ${op.path} failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${op.op}`, true);
    }
  }
  return out;
}

/** applyMergePatch applies an RFC 7386 merge patch to a copy of doc. */
export function applyMergePatch(doc: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isPlainObject(doc) ? structuredClone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** mergeKeyFor names the strategic-merge key of a list field at a path (undefined: the list is replaced). */
function mergeKeyFor(path: string[], field: string): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
    case 'hostAliases':
      return field === 'hostAliases' ? 'ip' : 'name';
    case 'ports':
      // Service ports merge by port; container ports by containerPort.
      return path.includes('containers') || path.includes('initContainers') ? 'containerPort' : 'port';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    default:
      return undefined;
  }
}

/** PRIMITIVE_MERGE_LISTS are lists of scalars merged as sets (patchStrategy:"merge"). */
const PRIMITIVE_MERGE_LISTS = new Set(['finalizers']);

function mergeList(path: string[], field: string, cur: Json, patch: Json[]): Json[] {
  const key = mergeKeyFor(path, field);
  const base = Array.isArray(cur) ? structuredClone(cur) : [];
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace'));
  }
  if (PRIMITIVE_MERGE_LISTS.has(field)) {
    for (const p of patch) if (!base.some((b) => deepEqual(b, p))) base.push(structuredClone(p));
    return base;
  }
  if (key === undefined) return patch.map((p) => stripDirectives(p));
  for (const p of patch) {
    if (!isPlainObject(p)) throw new PatchError(`list ${field} expects objects with merge key ${key}`);
    const kv = p[key];
    if (kv === undefined) throw new PatchError(`map: ${JSON.stringify(p)} does not contain declared merge key: ${key}`);
    const i = base.findIndex((b) => isPlainObject(b) && deepEqual(b[key], kv));
    if (p.$patch === 'delete') {
      if (i >= 0) base.splice(i, 1);
      continue;
    }
    if (i >= 0) base[i] = strategicMerge([...path, field], base[i], p);
    else base.push(stripDirectives(p));
  }
  return base;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isPlainObject(v)) return v;
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function strategicMerge(path: string[], doc: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, Json> = isPlainObject(doc) ? structuredClone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) {
        out[field] = (out[field] as Json[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      }
      continue;
    }
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(path, k, out[k], v);
    else if (isPlainObject(v)) {
      const merged = strategicMerge([...path, k], out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[]);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

/** applyStrategicMergePatch applies a Kubernetes strategic merge patch to a copy of doc. */
export function applyStrategicMergePatch(doc: Json, patch: Json): Json {
  if (!isPlainObject(patch)) throw new PatchError('strategic merge patch must be a JSON object', true);
  return strategicMerge([], doc, patch);
}
