// The REST semantics of stored resources: create, get, list, update
// (main resource and status subresource), patch, delete with cascading to
// owned objects, namespace deletion, optimistic concurrency, defaulting,
// validation and Service IP allocation. HTTP-free: methods return objects
// or throw ApiError.
import { randomUUID } from 'node:crypto';
import { applyCreateDefaults } from './defaults.ts';
import { clone, isPlainObject, type KubeObject, nowTimestamp } from './object.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.ts';
import { groupVersion, isStored, RESOURCE_TYPES, type ResourceType, typeByKey, typeKey } from './resources.ts';
import { selectorString } from './selectors.ts';
import { allocateClusterIP, allocateNodePort } from './serviceips.ts';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  type FieldError,
  forbidden,
  invalid,
  notFound,
  unsupportedMediaType,
} from './status.ts';
import type { ObjectStore } from './store.ts';
import { validateImmutable, validateObject } from './validation.ts';

/** PATCH_TYPES are the accepted PATCH content types. */
export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
];

/** NAMESPACE_FINALIZE_DELAY_MS is how long a deleted namespace stays Terminating before its content and itself go. */
export const NAMESPACE_FINALIZE_DELAY_MS = 1000;

/** PROTECTED_NAMESPACES may not be deleted. */
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** DeleteOptions is the part of metav1.DeleteOptions the server honours. */
export interface DeleteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** WriteOptions carries dryRun and an admission check for create/update/patch. */
export interface WriteOptions {
  dryRun?: boolean;
  /** admit sees the final object before it is stored and may throw an ApiError to refuse it. */
  admit?: (type: ResourceType, obj: KubeObject) => void;
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

function specOf(o: KubeObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

/** resetStatusOnCreate lists types whose create ignores a client-sent status. */
const RESET_STATUS_ON_CREATE = new Set([
  '/pods',
  '/services',
  '/namespaces',
  'apps/deployments',
  'apps/replicasets',
  'apps/statefulsets',
  '/persistentvolumeclaims',
  '/persistentvolumes',
]);

/** Registry applies REST semantics to the object store. */
export class Registry {
  readonly store: ObjectStore;

  #timers = new Set<NodeJS.Timeout>();
  #namespaceDelayMs: number;

  constructor(store: ObjectStore, opts: { namespaceFinalizeDelayMs?: number } = {}) {
    this.store = store;
    this.#namespaceDelayMs = opts.namespaceFinalizeDelayMs ?? NAMESPACE_FINALIZE_DELAY_MS;
  }

  /** resumeTerminations finishes namespace deletions interrupted by a restart. */
  resumeTerminations(): void {
    for (const ns of this.store.list('/namespaces'))
      if (ns.metadata.deletionTimestamp) this.#scheduleFinalize(ns.metadata.name!);
  }

  /** close cancels pending namespace finalizations (they resume at the next start). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /** #terminateNamespace marks a namespace Terminating; its content and then itself are deleted shortly after, as the namespace controller does. */
  #terminateNamespace(cur: KubeObject): KubeObject {
    if (cur.metadata.deletionTimestamp) return cur;
    const next = clone(cur);
    next.metadata.deletionTimestamp = nowTimestamp();
    next.status = { ...(next.status ?? {}), phase: 'Terminating' };
    const stored = this.store.put('/namespaces', next);
    this.#scheduleFinalize(cur.metadata.name!);
    return stored;
  }

  #scheduleFinalize(name: string): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#finalizeNamespace(name);
    }, this.#namespaceDelayMs);
    this.#timers.add(timer);
  }

  #finalizeNamespace(name: string): void {
    const ns = this.store.get('/namespaces', undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const t of RESOURCE_TYPES) {
      if (!t.namespaced || !isStored(t)) continue;
      for (const o of this.store.list(typeKey(t), name)) this.store.remove(typeKey(t), name, o.metadata.name!);
    }
    this.store.remove('/namespaces', undefined, name);
  }

  /** withKind returns a copy of a stored object carrying its kind and apiVersion, as single-object responses do. */
  withKind(type: ResourceType, obj: KubeObject): KubeObject {
    return { apiVersion: groupVersion(type), kind: type.kind, ...clone(obj) };
  }

  /** get returns one object or throws NotFound. */
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.store.get(typeKey(type), namespace, name);
    if (!o) throw notFound(type, name);
    return o;
  }

  /** list returns the objects of a type (one namespace or all) with the list's resourceVersion. */
  list(type: ResourceType, namespace: string | undefined): { items: KubeObject[]; rv: number } {
    return { items: this.store.list(typeKey(type), namespace), rv: this.store.rv };
  }

  #checkBodyType(type: ResourceType, body: KubeObject): void {
    if (body.apiVersion !== undefined && body.apiVersion !== groupVersion(type))
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${groupVersion(type)})`,
      );
    if (body.kind !== undefined && body.kind !== type.kind)
      throw badRequest(
        `${body.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the kind in the data does not match the expected kind`,
      );
  }

  #checkNamespace(type: ResourceType, body: KubeObject, namespace: string | undefined): void {
    if (type.namespaced) {
      if (body.metadata.namespace && namespace && body.metadata.namespace !== namespace)
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      if (namespace) body.metadata.namespace = namespace;
    } else delete body.metadata.namespace;
  }

  /** asObject checks that a decoded body is an object with metadata. */
  asObject(body: unknown): KubeObject {
    if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON object');
    if (body.metadata === undefined || body.metadata === null) body.metadata = {};
    if (!isPlainObject(body.metadata)) throw badRequest('metadata must be an object');
    return body as KubeObject;
  }

  /** create stores a new object, defaulted and validated; returns it with kind. */
  create(type: ResourceType, namespace: string | undefined, raw: unknown, opts: WriteOptions = {}): KubeObject {
    const key = typeKey(type);
    const obj = clone(this.asObject(raw));
    this.#checkBodyType(type, obj);
    this.#checkNamespace(type, obj, namespace);
    const meta = obj.metadata;
    if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName !== '')
      meta.name = `${meta.generateName}${randomSuffix()}`;
    for (const f of [
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'selfLink',
      'managedFields',
    ])
      delete meta[f];
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp();
    if (type.generation) meta.generation = 1;
    if (RESET_STATUS_ON_CREATE.has(key)) delete obj.status;
    if (key === '/secrets') this.#foldStringData(obj);
    applyCreateDefaults(key, obj);
    const errs = validateObject(key, obj, type.namespaced);
    if (errs.length > 0) throw invalid(type, meta.name ?? '', errs);
    if (type.namespaced) {
      const ns = this.store.get('/namespaces', undefined, obj.metadata.namespace!);
      if (!ns) throw notFound(typeByKey('/namespaces')!, obj.metadata.namespace!);
      if (ns.metadata.deletionTimestamp) {
        const msg = `unable to create new content in namespace ${ns.metadata.name} because it is being terminated`;
        const err = forbidden(type.group, type.resource, meta.name, msg);
        err.details!.causes = [{ reason: 'NamespaceTerminating', message: msg, field: 'metadata.namespace' }];
        throw err;
      }
    }
    if (this.store.get(key, meta.namespace, meta.name!)) throw alreadyExists(type, meta.name!);
    if (key === '/services') this.#allocateServiceAddresses(type, obj, undefined);
    delete obj.apiVersion;
    delete obj.kind;
    opts.admit?.(type, obj);
    if (opts.dryRun) return this.withKind(type, obj);
    return this.withKind(type, this.store.put(key, obj));
  }

  #foldStringData(obj: KubeObject): void {
    if (!isPlainObject(obj.stringData)) return;
    obj.data = { ...(isPlainObject(obj.data) ? obj.data : {}) };
    for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v)).toString('base64');
    delete obj.stringData;
  }

  #allocateServiceAddresses(type: ResourceType, obj: KubeObject, prev: KubeObject | undefined): void {
    const spec = obj.spec;
    const usedIPs = new Set<string>();
    const usedPorts = new Set<number>();
    for (const s of this.store.list('/services')) {
      if (prev && s.metadata.uid === prev.metadata.uid) continue;
      if (typeof s.spec?.clusterIP === 'string') usedIPs.add(s.spec.clusterIP);
      for (const p of s.spec?.ports ?? []) if (p?.nodePort) usedPorts.add(p.nodePort);
    }
    const errs: FieldError[] = [];
    if (spec.type === 'ExternalName') {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    } else if (spec.clusterIP === 'None') {
      spec.clusterIPs = ['None'];
    } else if (prev?.spec?.clusterIP && prev.spec.type !== 'ExternalName' && (spec.clusterIP ?? '') === '') {
      spec.clusterIP = prev.spec.clusterIP;
      spec.clusterIPs = prev.spec.clusterIPs ?? [prev.spec.clusterIP];
    } else if (!(prev && spec.clusterIP === prev.spec?.clusterIP)) {
      const requested = spec.clusterIP ?? (Array.isArray(spec.clusterIPs) ? spec.clusterIPs[0] : undefined);
      const r = allocateClusterIP(requested, usedIPs);
      if (typeof r === 'string') {
        spec.clusterIP = r;
        spec.clusterIPs = [r];
      } else errs.push(r);
    }
    if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && Array.isArray(spec.ports)) {
      spec.ports.forEach((p: Record<string, unknown>, i: number) => {
        if (!isPlainObject(p)) return;
        const old = prev?.spec?.ports?.find((q: Record<string, unknown>) => q?.port === p.port)?.nodePort;
        if ((p.nodePort === undefined || p.nodePort === 0) && old) {
          p.nodePort = old;
          return;
        }
        if (p.nodePort !== undefined && p.nodePort === old) return;
        const r = allocateNodePort(p.nodePort, usedPorts, `spec.ports[${i}].nodePort`);
        if (typeof r === 'number') {
          p.nodePort = r;
          usedPorts.add(r);
        } else errs.push(r);
      });
    } else if (Array.isArray(spec.ports)) for (const p of spec.ports) if (isPlainObject(p)) delete p.nodePort;
    if (errs.length > 0) throw invalid(type, obj.metadata.name ?? '', errs);
  }

  /** update replaces an object (or only its status when subresource is 'status'); stale resourceVersion → 409. */
  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    raw: unknown,
    subresource: string | undefined,
    opts: WriteOptions = {},
  ): KubeObject {
    const key = typeKey(type);
    const body = clone(this.asObject(raw));
    this.#checkBodyType(type, body);
    if (body.metadata.name !== undefined && body.metadata.name !== name)
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    body.metadata.name = name;
    this.#checkNamespace(type, body, namespace);
    const prev = this.store.get(key, namespace, name);
    if (!prev) throw notFound(type, name);
    const rv = body.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== prev.metadata.resourceVersion) throw conflict(type, name);
    let next: KubeObject;
    if (subresource === 'status') {
      next = clone(prev);
      if (body.status !== undefined) next.status = body.status;
      else delete next.status;
    } else {
      next = body;
      const meta = next.metadata;
      meta.uid = prev.metadata.uid;
      meta.creationTimestamp = prev.metadata.creationTimestamp;
      if (prev.metadata.deletionTimestamp) meta.deletionTimestamp = prev.metadata.deletionTimestamp;
      else delete meta.deletionTimestamp;
      if (type.generation) meta.generation = prev.metadata.generation ?? 1;
      else delete meta.generation;
      delete meta.managedFields;
      delete meta.selfLink;
      if (key === '/secrets') this.#foldStringData(next);
      applyCreateDefaults(key, next);
      if (type.subresources.includes('status')) {
        if (prev.status !== undefined) next.status = clone(prev.status);
        else delete next.status;
      }
    }
    delete next.apiVersion;
    delete next.kind;
    const errs = [...validateObject(key, next, type.namespaced), ...validateImmutable(key, prev, next)];
    if (errs.length > 0) throw invalid(type, name, errs);
    if (key === '/services' && subresource === undefined) this.#allocateServiceAddresses(type, next, prev);
    if (type.generation && specOf(next) !== specOf(prev))
      next.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = prev.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(prev)) return this.withKind(type, prev); // no-op: no new revision
    opts.admit?.(type, next);
    if (opts.dryRun) return this.withKind(type, next);
    return this.withKind(type, this.store.put(key, next));
  }

  /** patch applies a JSON, merge or strategic-merge patch and stores the result as an update. */
  patch(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    raw: unknown,
    subresource: string | undefined,
    opts: WriteOptions = {},
  ): KubeObject {
    const patched = this.applyPatch(type, name, contentType, this.withKind(type, this.get(type, namespace, name)), raw);
    return this.update(type, namespace, name, patched, subresource, opts);
  }

  /** applyPatch applies a patch of the given media type to a document; bad patches are 400 (undecodable) or 422, unknown types 415. */
  applyPatch(type: ResourceType, name: string, contentType: string, doc: unknown, raw: unknown): KubeObject {
    let patched: unknown;
    try {
      if (contentType === 'application/json-patch+json') patched = applyJsonPatch(doc, raw);
      else if (contentType === 'application/merge-patch+json') patched = applyMergePatch(doc, raw);
      else if (contentType === 'application/strategic-merge-patch+json') patched = applyStrategicMergePatch(doc, raw);
      else throw unsupportedMediaType(PATCH_TYPES.concat('application/apply-patch+yaml'));
    } catch (err) {
      if (err instanceof PatchError) {
        if (err.undecodable) throw badRequest(err.message);
        throw new ApiError(
          422,
          'Invalid',
          `${type.kind} "${name}" is invalid: patch: Invalid value: ${JSON.stringify(JSON.stringify(raw))}: ${err.message}`,
          {
            name,
            ...(type.group === '' ? {} : { group: type.group }),
            kind: type.kind,
            causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${err.message}`, field: 'patch' }],
          },
        );
      }
      throw err;
    }
    if (!isPlainObject(patched)) throw badRequest('the patched object is not a JSON object');
    return patched as KubeObject;
  }

  /** getScale renders a workload's autoscaling/v1 Scale (its scale subresource). */
  getScale(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.get(type, namespace, name);
    const { uid, resourceVersion, creationTimestamp } = o.metadata;
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
      spec: { replicas: o.spec?.replicas ?? 0 },
      status: { replicas: o.status?.replicas ?? 0, selector: selectorString(o.spec?.selector) },
    };
  }

  /** updateScale sets a workload's spec.replicas from a Scale (stale resourceVersion → 409) and returns the new Scale. */
  updateScale(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    raw: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    const scale = this.asObject(raw);
    const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
    if (!Number.isInteger(replicas) || (replicas as number) < 0) {
      throw invalid(
        type,
        name,
        [
          {
            type: 'Invalid',
            field: 'spec.replicas',
            value: replicas ?? null,
            detail: 'must be greater than or equal to 0',
          },
        ],
        'Scale',
      );
    }
    const cur = this.get(type, namespace, name);
    const rv = scale.metadata.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) throw conflict(type, name);
    const next = clone(cur);
    next.spec = { ...next.spec, replicas };
    this.update(type, namespace, name, next, undefined, opts);
    return this.getScale(type, namespace, name);
  }

  /** delete removes an object (namespaces: with everything in them; owners: with their dependents unless orphaned). */
  delete(type: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    const key = typeKey(type);
    const cur = this.get(type, namespace, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== cur.metadata.uid)
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`,
      );
    if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
      throw conflict(
        type,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
      );
    if (key === '/namespaces' && PROTECTED_NAMESPACES.has(name))
      throw forbidden('', 'namespaces', name, 'this namespace may not be deleted');
    if (opts.dryRun) return this.withKind(type, cur);
    if (key === '/namespaces') return this.withKind(type, this.#terminateNamespace(cur));
    const last = this.store.remove(key, namespace, name)!;
    this.#collectDependents(last, opts.propagationPolicy ?? 'Background');
    return this.withKind(type, last);
  }

  /** #collectDependents does the garbage collector's work for the deleted owner right away. */
  #collectDependents(owner: KubeObject, policy: string): void {
    const uid = owner.metadata.uid;
    for (const t of RESOURCE_TYPES) {
      if (!t.namespaced || !isStored(t)) continue;
      const k = typeKey(t);
      for (const o of this.store.list(k, owner.metadata.namespace)) {
        const refs = o.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === uid)) continue;
        if (policy === 'Orphan') {
          const next = clone(o);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.store.put(k, next);
        } else {
          const last = this.store.remove(k, o.metadata.namespace, o.metadata.name!);
          if (last) this.#collectDependents(last, policy);
        }
      }
    }
  }
}
