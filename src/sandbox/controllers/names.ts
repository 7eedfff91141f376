// Name and hash helpers shaped like the real controllers' (pod-template-hash,
// generated suffixes), so objects look familiar in `kubectl get`.
import { createHash, randomInt } from 'node:crypto';
import type { V1LabelSelector, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';

// Kubernetes' rand.String alphabet: no vowels, no easily confused characters.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** randomSuffix returns n characters from the alphabet the API server's generateName uses. */
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** templateHash is a short stable hash of a pod template, written with the same alphabet (pod-template-hash). */
export function templateHash(value: unknown, n = 10): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(value ?? null))
    .digest();
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[(digest[i] ?? 0) % ALPHABET.length];
  return s;
}

/** selectorMatches reports whether labels satisfy a LabelSelector (matchLabels and matchExpressions). */
export function selectorMatches(
  selector: V1LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(l[e.key] as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[e.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** mapSelectorMatches reports whether labels satisfy a Service's equality selector; an empty selector matches nothing. */
export function mapSelectorMatches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels?.[k] === v);
}

/** controllerOf returns an object's controlling owner reference. */
export function controllerOf(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  return meta?.ownerReferences?.find((o) => o.controller);
}

/** ownerRef builds a controlling owner reference to an object. */
export function ownerRef(apiVersion: string, kind: string, meta: V1ObjectMeta): V1OwnerReference {
  return { apiVersion, kind, name: meta.name ?? '', uid: meta.uid ?? '', controller: true, blockOwnerDeletion: true };
}
