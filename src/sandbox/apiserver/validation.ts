// Validation of incoming objects, with the field paths and messages of
// k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation, for
// the rules a client is likely to trip: names, labels, required fields,
// selectors, ports. Returns a list of field errors (empty when valid).

import { isPlainObject, type KubeObject } from './object.ts';
import { matchLabelSelectorObject } from './selectors.ts';
import type { FieldError } from './status.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** NameRule is how a type validates metadata.name. */
export type NameRule = 'subdomain' | 'label' | 'dns1035' | 'path';

/** nameRuleFor picks the name rule the real apiserver applies to a type. */
export function nameRuleFor(key: string): NameRule {
  if (key === '/namespaces') return 'label';
  if (key === '/services') return 'dns1035';
  if (key.startsWith('rbac.authorization.k8s.io/')) return 'path';
  return 'subdomain';
}

/** validateName checks a name under a rule; returns the problem or undefined. */
export function validateName(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case 'subdomain':
      if (name.length > 253) return 'must be no more than 253 characters';
      return DNS1123_SUBDOMAIN.test(name) ? undefined : SUBDOMAIN_MSG;
    case 'label':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1123_LABEL.test(name) ? undefined : LABEL_MSG;
    case 'dns1035':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1035_LABEL.test(name) ? undefined : DNS1035_MSG;
    case 'path':
      if (name === '.' || name === '..') return `may not be '${name}'`;
      return /[/%]/.test(name) ? `may not contain '${name.includes('/') ? '/' : '%'}'` : undefined;
  }
}

function validateLabels(labels: unknown, field: string, errs: FieldError[]): void {
  if (labels === undefined || labels === null) return;
  if (!isPlainObject(labels)) {
    errs.push({ type: 'Invalid', field, value: labels, detail: 'must be a map of string to string' });
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    const [prefix, name] = k.includes('/')
      ? [k.slice(0, k.lastIndexOf('/')), k.slice(k.lastIndexOf('/') + 1)]
      : ['', k];
    if (!QUALIFIED_NAME.test(name) || name.length > 63 || (prefix !== '' && !DNS1123_SUBDOMAIN.test(prefix)))
      errs.push({ type: 'Invalid', field, value: k, detail: QUALIFIED_NAME_MSG });
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
      errs.push({ type: 'Invalid', field, value: v, detail: LABEL_VALUE_MSG });
  }
}

/** validateMeta checks name, namespace and labels of any object. */
export function validateMeta(key: string, obj: KubeObject, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const name = obj.metadata.name;
  if (name === undefined || name === '') {
    errs.push({ type: 'Required', field: 'metadata.name', detail: 'name or generateName is required' });
  } else {
    const problem = validateName(name, nameRuleFor(key));
    if (problem) errs.push({ type: 'Invalid', field: 'metadata.name', value: name, detail: problem });
  }
  if (namespaced && !obj.metadata.namespace) errs.push({ type: 'Required', field: 'metadata.namespace', detail: '' });
  validateLabels(obj.metadata.labels, 'metadata.labels', errs);
  if (obj.metadata.annotations !== undefined && !isPlainObject(obj.metadata.annotations))
    errs.push({
      type: 'Invalid',
      field: 'metadata.annotations',
      value: obj.metadata.annotations,
      detail: 'must be a map',
    });
  return errs;
}

function validPort(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

function validateContainers(cs: unknown, field: string, errs: FieldError[], required: boolean): void {
  if (!Array.isArray(cs) || cs.length === 0) {
    if (required) errs.push({ type: 'Required', field, detail: '' });
    return;
  }
  const names = new Set<string>();
  cs.forEach((c, i) => {
    const f = `${field}[${i}]`;
    if (!isPlainObject(c)) {
      errs.push({ type: 'Invalid', field: f, value: c, detail: 'must be an object' });
      return;
    }
    if (typeof c.name !== 'string' || c.name === '') errs.push({ type: 'Required', field: `${f}.name`, detail: '' });
    else if (!DNS1123_LABEL.test(c.name))
      errs.push({ type: 'Invalid', field: `${f}.name`, value: c.name, detail: LABEL_MSG });
    else if (names.has(c.name)) errs.push({ type: 'Duplicate', field: `${f}.name`, value: c.name, detail: '' });
    else names.add(c.name);
    if (typeof c.image !== 'string' || c.image.trim() === '')
      errs.push({ type: 'Required', field: `${f}.image`, detail: '' });
    if (Array.isArray(c.ports)) {
      c.ports.forEach((p: unknown, j: number) => {
        if (!isPlainObject(p) || !validPort(p.containerPort))
          errs.push({
            type: 'Invalid',
            field: `${f}.ports[${j}].containerPort`,
            value: isPlainObject(p) ? (p.containerPort ?? 0) : p,
            detail: 'must be between 1 and 65535, inclusive',
          });
      });
    }
  });
}

function validatePodSpec(spec: unknown, field: string, errs: FieldError[]): void {
  if (!isPlainObject(spec)) {
    errs.push({ type: 'Required', field, detail: '' });
    return;
  }
  validateContainers(spec.containers, `${field}.containers`, errs, true);
  validateContainers(spec.initContainers, `${field}.initContainers`, errs, false);
  const rp = spec.restartPolicy;
  if (rp !== undefined && !['Always', 'OnFailure', 'Never'].includes(rp as string))
    errs.push({
      type: 'NotSupported',
      field: `${field}.restartPolicy`,
      value: rp,
      detail: 'supported values: "Always", "OnFailure", "Never"',
    });
}

function validateWorkload(obj: KubeObject, errs: FieldError[]): void {
  if (!isPlainObject(obj.spec)) {
    errs.push({ type: 'Required', field: 'spec', detail: '' });
    return;
  }
  const spec: KubeObject['spec'] = obj.spec;
  if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || spec.replicas < 0))
    errs.push({
      type: 'Invalid',
      field: 'spec.replicas',
      value: spec.replicas,
      detail: 'must be greater than or equal to 0',
    });
  const sel = spec.selector;
  const hasTerms =
    isPlainObject(sel) &&
    (Object.keys(sel.matchLabels ?? {}).length > 0 ||
      (Array.isArray(sel.matchExpressions) && sel.matchExpressions.length > 0));
  if (!hasTerms) {
    errs.push({ type: 'Required', field: 'spec.selector', detail: '' });
  }
  const tmpl = spec.template;
  if (!isPlainObject(tmpl)) {
    errs.push({ type: 'Required', field: 'spec.template', detail: '' });
    return;
  }
  const labels = isPlainObject(tmpl.metadata) && isPlainObject(tmpl.metadata.labels) ? tmpl.metadata.labels : {};
  validateLabels(labels, 'spec.template.metadata.labels', errs);
  if (isPlainObject(sel) && !matchLabelSelectorObject(sel, labels as Record<string, string>))
    errs.push({
      type: 'Invalid',
      field: 'spec.template.metadata.labels',
      value: labels,
      detail: '`selector` does not match template `labels`',
    });
  validatePodSpec(tmpl.spec, 'spec.template.spec', errs);
}

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function validateService(obj: KubeObject, errs: FieldError[]): void {
  const spec = obj.spec;
  if (!isPlainObject(spec)) {
    errs.push({ type: 'Required', field: 'spec', detail: '' });
    return;
  }
  if (!SERVICE_TYPES.includes(spec.type as string)) {
    errs.push({
      type: 'NotSupported',
      field: 'spec.type',
      value: spec.type,
      detail: `supported values: ${SERVICE_TYPES.map((s) => `"${s}"`).join(', ')}`,
    });
    return;
  }
  if (spec.type === 'ExternalName') {
    if (typeof spec.externalName !== 'string' || spec.externalName === '')
      errs.push({ type: 'Required', field: 'spec.externalName', detail: '' });
    else if (!DNS1123_SUBDOMAIN.test(spec.externalName.replace(/\.$/, '')))
      errs.push({ type: 'Invalid', field: 'spec.externalName', value: spec.externalName, detail: SUBDOMAIN_MSG });
  }
  const headless = spec.clusterIP === 'None';
  const ports = spec.ports;
  if (!Array.isArray(ports) || ports.length === 0) {
    if (!headless && spec.type !== 'ExternalName') errs.push({ type: 'Required', field: 'spec.ports', detail: '' });
    return;
  }
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  ports.forEach((p: unknown, i: number) => {
    const f = `spec.ports[${i}]`;
    if (!isPlainObject(p)) {
      errs.push({ type: 'Invalid', field: f, value: p, detail: 'must be an object' });
      return;
    }
    if (ports.length > 1 && (typeof p.name !== 'string' || p.name === ''))
      errs.push({ type: 'Required', field: `${f}.name`, detail: '' });
    if (typeof p.name === 'string' && p.name !== '') {
      if (!DNS1123_LABEL.test(p.name))
        errs.push({ type: 'Invalid', field: `${f}.name`, value: p.name, detail: LABEL_MSG });
      if (seenNames.has(p.name)) errs.push({ type: 'Duplicate', field: `${f}.name`, value: p.name, detail: '' });
      seenNames.add(p.name);
    }
    if (!validPort(p.port))
      errs.push({
        type: 'Invalid',
        field: `${f}.port`,
        value: p.port ?? 0,
        detail: 'must be between 1 and 65535, inclusive',
      });
    const proto = p.protocol ?? 'TCP';
    if (!['TCP', 'UDP', 'SCTP'].includes(proto as string))
      errs.push({
        type: 'NotSupported',
        field: `${f}.protocol`,
        value: proto,
        detail: 'supported values: "SCTP", "TCP", "UDP"',
      });
    const id = `${p.port}/${proto}`;
    if (seenPorts.has(id))
      errs.push({ type: 'Duplicate', field: f, value: { port: p.port, protocol: proto }, detail: '' });
    seenPorts.add(id);
    const tp = p.targetPort;
    if (typeof tp === 'number' && !validPort(tp))
      errs.push({
        type: 'Invalid',
        field: `${f}.targetPort`,
        value: tp,
        detail: 'must be between 1 and 65535, inclusive',
      });
  });
  if (spec.selector !== undefined) validateLabels(spec.selector, 'spec.selector', errs);
}

/** validateObject runs the type-specific rules after metadata checks. */
export function validateObject(key: string, obj: KubeObject, namespaced: boolean): FieldError[] {
  const errs = validateMeta(key, obj, namespaced);
  switch (key) {
    case '/pods':
      validatePodSpec(obj.spec, 'spec', errs);
      break;
    case 'apps/deployments':
    case 'apps/replicasets':
    case 'apps/statefulsets':
      validateWorkload(obj, errs);
      break;
    case '/services':
      validateService(obj, errs);
      break;
    case 'discovery.k8s.io/endpointslices':
      if (!['IPv4', 'IPv6', 'FQDN'].includes(obj.addressType))
        errs.push({
          type: 'NotSupported',
          field: 'addressType',
          value: obj.addressType ?? '',
          detail: 'supported values: "FQDN", "IPv4", "IPv6"',
        });
      if (obj.endpoints !== undefined && !Array.isArray(obj.endpoints))
        errs.push({ type: 'Invalid', field: 'endpoints', value: obj.endpoints, detail: 'must be a list' });
      break;
  }
  return errs;
}

/** validateImmutable reports changes to fields that may not change on update. */
export function validateImmutable(key: string, prev: KubeObject, next: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (key.startsWith('apps/') && !same(prev.spec?.selector, next.spec?.selector))
    errs.push({ type: 'Invalid', field: 'spec.selector', value: next.spec?.selector, detail: 'field is immutable' });
  if (key === '/services') {
    const a = prev.spec?.clusterIP;
    const b = next.spec?.clusterIP;
    if (a && b && a !== b && prev.spec?.type !== 'ExternalName' && next.spec?.type !== 'ExternalName')
      errs.push({ type: 'Invalid', field: 'spec.clusterIPs[0]', value: b, detail: 'may not change once set' });
  }
  if (key === '/pods' && !same(stripImages(prev.spec), stripImages(next.spec)))
    errs.push({
      type: 'Forbidden',
      field: 'spec',
      detail:
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
    });
  return errs;
}

function stripImages(spec: unknown): unknown {
  if (!isPlainObject(spec)) return spec;
  const copy = structuredClone(spec);
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  // nodeName is set once by binding/scheduling; allow it to be set from empty.
  delete copy.nodeName;
  for (const list of ['containers', 'initContainers']) {
    if (Array.isArray(copy[list]))
      for (const c of copy[list] as Record<string, unknown>[]) if (isPlainObject(c)) delete c.image;
  }
  return copy;
}
