// Label and field selectors, parsed from their URL string forms
// (k8s.io/apimachinery/pkg/labels and pkg/fields). Parsers return a
// matcher or an error message, never throw.
import type { KubeObject } from './object.ts';
import type { ResourceType } from './resources.ts';

/** Matcher decides whether an object is selected. */
export type Matcher = (obj: KubeObject) => boolean;

type Requirement =
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | '!'; key: string }
  | { op: 'gt' | 'lt'; key: string; value: number };

/** splitTopLevel splits on commas outside parentheses (so `a in (x,y),b` is two terms). */
function splitTopLevel(s: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) return undefined;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) return undefined;
  out.push(cur);
  return out;
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseTerm(term: string): Requirement | string {
  const s = term.trim();
  let m = /^!\s*(\S+)$/.exec(s);
  if (m) return LABEL_KEY.test(m[1]!) ? { op: '!', key: m[1]! } : `invalid label key "${m[1]}"`;
  m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(s);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    if (!LABEL_KEY.test(m[1]!)) return `invalid label key "${m[1]}"`;
    for (const v of values) if (!LABEL_VALUE.test(v)) return `invalid label value: "${v}"`;
    return { op: m[2] as 'in' | 'notin', key: m[1]!, values };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/.exec(s);
  if (m) {
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (!LABEL_KEY.test(key)) return `invalid label key "${key}"`;
    const v = value.trim();
    if (op === '<' || op === '>') {
      const n = Number(v);
      if (!/^-?\d+$/.test(v)) return `for 'Gt', 'Lt' operators, the value must be an integer`;
      return { op: op === '<' ? 'lt' : 'gt', key, value: n };
    }
    if (!LABEL_VALUE.test(v)) return `invalid label value: "${v}"`;
    return { op: op === '!=' ? 'notin' : 'in', key, values: [v] };
  }
  if (LABEL_KEY.test(s)) return { op: 'exists', key: s };
  return `unable to parse requirement: found '${s}'`;
}

function matches(reqs: Requirement[], labels: Record<string, string>): boolean {
  for (const r of reqs) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'in':
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v as string)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const n = Number(v);
        if (r.op === 'gt' ? !(n > r.value) : !(n < r.value)) return false;
      }
    }
  }
  return true;
}

/** parseLabelSelector turns `app=web,tier in (a,b),!legacy` into a matcher, or an error message. */
export function parseLabelSelector(s: string | null | undefined): Matcher | string {
  if (s === null || s === undefined || s.trim() === '') return () => true;
  const terms = splitTopLevel(s);
  if (!terms) return `unable to parse requirement: unbalanced parentheses in "${s}"`;
  const reqs: Requirement[] = [];
  for (const term of terms) {
    const r = parseTerm(term);
    if (typeof r === 'string') return `unable to parse requirement: ${r}`;
    reqs.push(r);
  }
  return (obj) => matches(reqs, obj.metadata.labels ?? {});
}

/** matchLabelSelectorObject evaluates a metav1.LabelSelector object (matchLabels + matchExpressions). */
export function matchLabelSelectorObject(sel: unknown, labels: Record<string, string>): boolean {
  if (typeof sel !== 'object' || sel === null) return false;
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const vals = e.values ?? [];
    if (e.operator === 'In' && !(has && vals.includes(labels[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(labels[e.key]!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** fieldValue reads a selectable field the way the apiserver's per-type field sets expose it. */
export function fieldValue(obj: KubeObject, field: string): string {
  if (field === 'metadata.name') return obj.metadata.name ?? '';
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  if (field === 'source') return obj.source?.component ?? '';
  let v: unknown = obj;
  for (const part of field.split('.')) {
    if (typeof v !== 'object' || v === null) return '';
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return '';
  return String(v);
}

/** unescapeField undoes the `\,` `\=` `\\` escapes of field selector values. */
function unescapeField(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** splitUnescaped splits on a separator that is not preceded by a backslash. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** parseFieldSelector turns `metadata.name=x,status.phase!=Failed` into a matcher for a type, or an error message (a 400). */
export function parseFieldSelector(s: string | null | undefined, type: ResourceType): Matcher | string {
  if (s === null || s === undefined || s.trim() === '') return () => true;
  const reqs: { field: string; value: string; negate: boolean }[] = [];
  for (const term of splitUnescaped(s, ',')) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/s.exec(term.trim());
    if (!m) return `invalid selector: '${s}'; can't understand '${term}'`;
    const field = m[1]!.trim();
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !type.fields.includes(field)) {
      return `field label not supported: ${field}`;
    }
    reqs.push({ field, value: unescapeField(m[3]!), negate: m[2] === '!=' });
  }
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

/** selectorString renders a metav1.LabelSelector in the URL syntax ("app=web,tier in (a,b)"), as Scale.status.selector and kubectl show it. */
export function selectorString(sel: unknown): string {
  if (typeof sel !== 'object' || sel === null) return '';
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
