// A minimal OpenAPI v3 description (/openapi/v3 and /openapi/v3/<gv>) that
// tells kubectl what it asks OpenAPI about: that every served kind accepts
// server-side field validation (the `fieldValidation` query parameter on
// its PATCH path), so `kubectl apply` validates on the server instead of
// downloading the full v2 schema. PATCH request bodies list only JSON and
// merge patch media types, which makes kubectl compute strategic merge
// patches from its compiled-in types (no component schemas needed).
import { createHash } from 'node:crypto';
import { KUBE_VERSION } from './discovery.ts';
import { RESOURCE_TYPES, type ResourceType } from './resources.ts';

function gvPath(type: { group: string; version: string }): string {
  return type.group === '' ? `api/${type.version}` : `apis/${type.group}/${type.version}`;
}

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
  name,
  in: 'query',
  schema: { type: 'string', uniqueItems: true },
}));

function operationId(verb: string, t: ResourceType): string {
  const group = t.group === '' ? 'Core' : t.group.split('.')[0]!.replace(/^./, (c) => c.toUpperCase());
  return `${verb}${group}${t.version.replace(/^./, (c) => c.toUpperCase())}${t.namespaced ? 'Namespaced' : ''}${t.kind}`;
}

function gvDocument(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const t of RESOURCE_TYPES) {
    if (t.group !== group || t.version !== version || !t.verbs.includes('patch')) continue;
    const prefix = `/${gvPath(t)}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    paths[prefix] = {
      parameters: [
        { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
        ...(t.namespaced
          ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }]
          : []),
        { name: 'pretty', in: 'query', schema: { type: 'string', uniqueItems: true } },
      ],
      patch: {
        parameters: QUERY_PARAMS,
        description: `partially update the specified ${t.kind}`,
        operationId: operationId('patch', t),
        requestBody: {
          content: {
            'application/json-patch+json': { schema: { type: 'object' } },
            'application/merge-patch+json': { schema: { type: 'object' } },
          },
          required: true,
        },
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion },
    paths,
    components: { schemas: {} },
  };
}

/** OpenApiV3 serves the index and the per-group-version documents, with content hashes for caching. */
export class OpenApiV3 {
  #docs = new Map<string, string>();
  #hashes = new Map<string, string>();

  constructor() {
    for (const t of RESOURCE_TYPES) {
      const key = gvPath(t);
      if (this.#docs.has(key)) continue;
      const text = JSON.stringify(gvDocument(t.group, t.version));
      this.#docs.set(key, text);
      this.#hashes.set(key, createHash('sha512').update(text).digest('hex').toUpperCase());
    }
  }

  /** index is the /openapi/v3 document. */
  index(): string {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, hash] of this.#hashes) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    return JSON.stringify({ paths });
  }

  /** document returns the /openapi/v3/<gv> text and its hash, or undefined for an unknown group-version. */
  document(gv: string): { text: string; hash: string } | undefined {
    const text = this.#docs.get(gv);
    return text === undefined ? undefined : { text, hash: this.#hashes.get(gv)! };
  }
}
