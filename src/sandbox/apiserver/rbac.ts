// RBAC authorization (rbac.authorization.k8s.io/v1) evaluated over the
// stored Roles, ClusterRoles and their bindings, like the apiserver's RBAC
// authorizer, plus the system:masters superuser group. Denials are worded
// like the authorization filter's forbiddenMessage.
import type { UserInfo } from './auth.ts';
import type { KubeObject } from './object.ts';
import { type ApiError, forbidden } from './status.ts';
import type { ObjectStore } from './store.ts';

/** Attributes describe one request to authorize. */
export interface Attributes {
  verb: string;
  /** resource requests name a group and resource; non-resource requests set path instead. */
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path?: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

function has(list: string[] | undefined, v: string): boolean {
  return !!list && (list.includes('*') || list.includes(v));
}

/** ruleAllows reports whether one PolicyRule covers the request. */
export function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (a.path !== undefined) {
    return (rule.nonResourceURLs ?? []).some(
      (u) => u === '*' || u === a.path || (u.endsWith('*') && a.path!.startsWith(u.slice(0, -1))),
    );
  }
  if (!has(rule.apiGroups, a.apiGroup ?? '')) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : (a.resource ?? '');
  const resOk = (rule.resources ?? []).some(
    (r) => r === '*' || r === combined || (a.subresource !== undefined && r === `*/${a.subresource}`),
  );
  if (!resOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== undefined && a.name !== '' && names.includes(a.name));
}

function subjectMatches(binding: KubeObject, user: UserInfo): boolean {
  const subjects = Array.isArray(binding.subjects) ? binding.subjects : [];
  return subjects.some((s: { kind?: string; name?: string; namespace?: string }) => {
    if (s.kind === 'User') return s.name === user.name;
    if (s.kind === 'Group') return typeof s.name === 'string' && user.groups.includes(s.name);
    if (s.kind === 'ServiceAccount') {
      const ns = s.namespace ?? binding.metadata.namespace;
      return user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    return false;
  });
}

/** Authorizer answers RBAC questions from the objects in a store. */
export class Authorizer {
  #store: ObjectStore;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  #roleRules(ref: { kind?: string; name?: string }, namespace: string | undefined): PolicyRule[] {
    if (typeof ref?.name !== 'string') return [];
    const role =
      ref.kind === 'ClusterRole'
        ? this.#store.get('rbac.authorization.k8s.io/clusterroles', undefined, ref.name)
        : ref.kind === 'Role' && namespace
          ? this.#store.get('rbac.authorization.k8s.io/roles', namespace, ref.name)
          : undefined;
    return Array.isArray(role?.rules) ? role.rules : [];
  }

  /** allowed reports whether the user may make the request. */
  allowed(user: UserInfo, a: Attributes): boolean {
    if (user.groups.includes('system:masters')) return true;
    for (const b of this.#store.list('rbac.authorization.k8s.io/clusterrolebindings')) {
      if (!subjectMatches(b, user)) continue;
      if (this.#roleRules(b.roleRef, undefined).some((r) => ruleAllows(r, a))) return true;
    }
    if (a.namespace && a.path === undefined) {
      for (const b of this.#store.list('rbac.authorization.k8s.io/rolebindings', a.namespace)) {
        if (!subjectMatches(b, user)) continue;
        if (this.#roleRules(b.roleRef, a.namespace).some((r) => ruleAllows(r, a))) return true;
      }
    }
    return false;
  }

  /** check returns the Forbidden error for a denied request, undefined when allowed. */
  check(user: UserInfo, a: Attributes): ApiError | undefined {
    if (this.allowed(user, a)) return undefined;
    return forbidden(
      a.apiGroup ?? '',
      a.path === undefined ? (a.resource ?? '') : '',
      a.name,
      forbiddenMessage(user, a),
    );
  }
}

/** forbiddenMessage is the denial text of the apiserver's authorization filter. */
export function forbiddenMessage(user: UserInfo, a: Attributes): string {
  if (a.path !== undefined) return `User "${user.name}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup ?? ''}" ${where}`;
}

function goList(xs: string[]): string {
  return `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
}

/** missingPermissions lists the rules (one per uncovered verb/resource) a user does not hold in a namespace (undefined: cluster-wide). */
function missingPermissions(
  authz: Authorizer,
  user: UserInfo,
  rules: PolicyRule[],
  namespace: string | undefined,
): string[] {
  const missing: string[] = [];
  for (const rule of rules) {
    for (const verb of rule.verbs ?? []) {
      for (const path of rule.nonResourceURLs ?? []) {
        if (!authz.allowed(user, { verb, path }))
          missing.push(`{NonResourceURLs:${goList([path])}, Verbs:${goList([verb])}}`);
      }
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const res of rule.resources ?? []) {
          const [resource, subresource] = res.split('/', 2) as [string, string | undefined];
          const names = rule.resourceNames?.length ? rule.resourceNames : [undefined];
          for (const name of names) {
            if (authz.allowed(user, { verb, apiGroup, resource, subresource, namespace, name })) continue;
            const rn = name ? `, ResourceNames:${goList([name])}` : '';
            missing.push(`{APIGroups:${goList([apiGroup])}, Resources:${goList([res])}${rn}, Verbs:${goList([verb])}}`);
          }
        }
      }
    }
  }
  return missing;
}

/** checkEscalation enforces RBAC's escalation prevention: a user may only create roles, and bindings to roles, whose permissions it holds itself (or with the escalate / bind verbs). */
export function checkEscalation(
  authz: Authorizer,
  store: ObjectStore,
  user: UserInfo,
  resource: string,
  obj: KubeObject,
): ApiError | undefined {
  if (user.groups.includes('system:masters')) return undefined;
  const group = 'rbac.authorization.k8s.io';
  const ns = obj.metadata.namespace;
  let rules: PolicyRule[];
  if (resource === 'roles' || resource === 'clusterroles') {
    if (authz.allowed(user, { verb: 'escalate', apiGroup: group, resource, namespace: ns, name: obj.metadata.name }))
      return undefined;
    rules = Array.isArray(obj.rules) ? obj.rules : [];
  } else if (resource === 'rolebindings' || resource === 'clusterrolebindings') {
    const ref = obj.roleRef ?? {};
    const refResource = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
    if (authz.allowed(user, { verb: 'bind', apiGroup: group, resource: refResource, namespace: ns, name: ref.name }))
      return undefined;
    const role =
      ref.kind === 'ClusterRole'
        ? store.get(`${group}/clusterroles`, undefined, ref.name)
        : store.get(`${group}/roles`, ns, ref.name);
    rules = Array.isArray(role?.rules) ? role.rules : [];
  } else return undefined;
  const missing = missingPermissions(authz, user, rules, ns);
  if (missing.length === 0) return undefined;
  return forbidden(
    group,
    resource,
    obj.metadata.name,
    `user "${user.name}" (groups=${goList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.join('\n')}`,
  );
}
