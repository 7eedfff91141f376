// The sandbox's Kubernetes-API-compatible HTTPS server: authentication,
// RBAC, URL routing to resources, discovery, health, content negotiation
// (JSON, Table, PartialObjectMetadata), lists with selectors and paging,
// watches, and the pod port-forward upgrade.

import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Authenticator, loadOrCreateTokens, type Tokens, type UserInfo } from './auth.ts';
import { bootstrap } from './bootstrap.ts';
import {
  AGGREGATED_DISCOVERY_TYPE,
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  subresourceInfo,
  versionInfo,
  wantsAggregatedDiscovery,
} from './discovery.ts';
import {
  type MediaRequest,
  negotiate,
  parseJsonBody,
  readBody,
  sendError,
  sendErrorOnSocket,
  sendJson,
} from './http.ts';
import { type KubeObject, objectKey } from './object.ts';
import { OpenApiV3 } from './openapi.ts';
import { loadOrCreatePki } from './pki.ts';
import { servePodLog } from './podlog.ts';
import {
  chooseProtocol,
  forwardPorts,
  type Logger,
  newPortForwardWss,
  parsePorts,
  SUPPORTED_PROTOCOLS,
} from './portforward.ts';
import { decodeProtobufObject, PROTOBUF_MEDIA_TYPE } from './protobuf.ts';
import { Authorizer, checkEscalation } from './rbac.ts';
import { type DeleteOptions, PATCH_TYPES, Registry } from './registry.ts';
import { findType, groupVersion, type ResourceType, typeKey } from './resources.ts';
import { type Matcher, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  successStatus,
  unauthorized,
  unsupportedMediaType,
} from './status.ts';
import { ObjectStore } from './store.ts';
import { type IncludeObject, tableFor } from './table.ts';
import { parseWatchRV, serveWatch } from './watch.ts';

/** ApiServerOptions configures startApiServer. */
export interface ApiServerOptions {
  /** stateDir keeps the CA, tokens and stored objects across restarts. */
  stateDir: string;
  /** runDir holds the pods' port-forward shim sockets (`pods/<ns>/<pod>/portforward.sock`). */
  runDir: string;
  host?: string;
  /** port to listen on; 0 picks a free one. */
  port?: number;
  logger?: Logger;
  /** namespaceFinalizeDelayMs is how long deleted namespaces stay Terminating (default 1 s; tests shorten it). */
  namespaceFinalizeDelayMs?: number;
  /** watchHistory bounds the changes kept for watches to resume from (default HISTORY_LIMIT). */
  watchHistory?: number;
}

/** ApiServer is a running server. */
export interface ApiServer {
  url: string;
  caCertPath: string;
  caCertPem: string;
  tokens: Tokens;
  /** close stops listening, ends watches and port-forwards, and releases the store. */
  close(): Promise<void>;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const PUBLIC_PATHS = /^\/(healthz|livez|readyz|version)(\/.*)?$/;

/** ResourceRequest is a URL resolved to a resource. */
interface ResourceRequest {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** parseResourcePath resolves /api/v1/... or /apis/G/V/... into a resource request (undefined: not a resource URL). */
export function parseResourcePath(path: string): ResourceRequest | ApiError | undefined {
  let segs: string[];
  try {
    segs = path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return badRequest(`malformed URL path: ${path}`);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return undefined;
  if (rest[0] === 'watch') rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !['status', 'finalize'].includes(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (!resource || extra.length > 0) return pathNotFound();
  const type = findType(group, version, resource);
  if (!type) return pathNotFound();
  if (namespace !== undefined && !type.namespaced) return pathNotFound();
  if (subresource !== undefined && !type.subresources.includes(subresource)) return pathNotFound();
  return { type, namespace, name, subresource };
}

function verbFor(method: string, r: ResourceRequest, watch: boolean): string | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : r.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return r.name ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

/** encodeContinue and decodeContinue carry the next key of a paged list. */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'devnet/1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (t.v === 'devnet/1' && typeof t.rv === 'number' && typeof t.start === 'string') return t;
  } catch {}
  throw badRequest('continue key is not valid: the continue token is malformed');
}

/** startApiServer starts the sandbox API server; PKI, tokens and objects persist under stateDir. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.logger ?? SILENT;
  const host = opts.host ?? '127.0.0.1';
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const extraSans =
    host === '127.0.0.1' || host === 'localhost' ? [] : [/^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`];
  const pki = loadOrCreatePki(opts.stateDir, extraSans);
  const tokens = loadOrCreateTokens(opts.stateDir);
  const authn = new Authenticator(opts.stateDir, tokens);
  const store = ObjectStore.open(opts.stateDir, { historyLimit: opts.watchHistory });
  const registry = new Registry(store, { namespaceFinalizeDelayMs: opts.namespaceFinalizeDelayMs });
  const authz = new Authorizer(store);
  bootstrap(registry);
  registry.resumeTerminations();
  const watches = new Set<() => void>();
  const wss = newPortForwardWss();
  const openapi = new OpenApiV3();
  let serverAddress = '';

  const server: Server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) sendError(res, err);
      else {
        log.error({ err, method: req.method, url: req.url }, 'internal error');
        sendError(res, internalError((err as Error)?.message ?? String(err)));
      }
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch (err) {
      if (err instanceof ApiError) sendErrorOnSocket(socket, err);
      else {
        log.error({ err, url: req.url }, 'internal error in upgrade');
        sendErrorOnSocket(socket, internalError((err as Error)?.message ?? String(err)));
      }
    }
  });
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'client error');
    socket.destroy();
  });
  // Every TCP connection, so close() can end them all at once (keep-alive,
  // half-done TLS handshakes and upgraded WebSockets included).
  const sockets = new Set<Duplex>();
  server.on('connection', (sock: Duplex) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });

  /** answer sends the result of a write once the write is on disk (group commit, see store.ts). */
  async function answer(res: ServerResponse, code: number, body: unknown): Promise<void> {
    await store.flushed();
    sendJson(res, code, body);
  }

  function authenticate(req: IncomingMessage): UserInfo {
    const user = authn.authenticate(req.headers.authorization);
    if (!user) throw unauthorized();
    return user;
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://x');
    const user = authenticate(req);
    const r = parseResourcePath(url.pathname);
    if (r instanceof ApiError) throw r;
    if (r?.type.resource !== 'pods' || r.subresource !== 'portforward' || !r.name || !r.namespace)
      throw badRequest('upgrade is only supported for pods/portforward');
    const { pod, ports } = checkPortForward(user, r, url);
    const offered = new Set(
      (req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
    if (chooseProtocol(offered) === false)
      throw badRequest(
        `requested protocol(s) are not supported: [${[...offered].join(' ')}]; supports [${SUPPORTED_PROTOCOLS.join(' ')}]`,
      );
    wss.handleUpgrade(req, socket, head, (ws) => {
      log.debug({ pod: pod.metadata.name, ports, user: user.name }, 'port-forward started');
      forwardPorts(ws, pod, ports, opts.runDir, log);
    });
  }

  function checkPortForward(user: UserInfo, r: ResourceRequest, url: URL): { pod: KubeObject; ports: number[] } {
    for (const verb of ['create', 'get']) {
      const denied = authz.check(user, {
        verb,
        apiGroup: '',
        resource: 'pods',
        subresource: 'portforward',
        namespace: r.namespace,
        name: r.name,
      });
      if (denied) throw denied;
    }
    const pod = registry.get(r.type, r.namespace, r.name!);
    if (!pod.spec?.nodeName) throw badRequest(`pod ${r.name} does not have a host assigned`);
    return { pod, ports: parsePorts(url.searchParams.getAll('ports')) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (PUBLIC_PATHS.test(path)) {
      if (req.headers.authorization) authenticate(req);
      if (path === '/version' || path === '/version/') return sendJson(res, 200, versionInfo());
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(
        url.searchParams.has('verbose')
          ? `[+]ping ok\n[+]etcd ok\n${path.slice(1).split('/')[0]} check passed\n`
          : 'ok',
      );
      return;
    }
    const user = authenticate(req);
    const r = parseResourcePath(path);
    if (r instanceof ApiError) throw r;
    if (r === undefined) return nonResource(req, res, user, url);
    const watch = isTrue(url.searchParams.get('watch')) || path.split('/').includes('watch');
    const verb = verbFor(method, r, watch);
    if (!verb) throw methodNotAllowed();
    if (r.subresource === 'portforward') {
      checkPortForward(user, r, url);
      throw badRequest('Upgrade request required');
    }
    if (r.subresource !== undefined && !subresourceInfo(r.type, r.subresource).verbs.includes(verb))
      throw methodNotAllowed();
    const denied = authz.check(user, {
      verb,
      apiGroup: r.type.group,
      resource: r.type.resource,
      subresource: r.subresource,
      namespace: r.namespace,
      name: r.name,
    });
    if (denied) throw denied;
    const media = negotiate(req.headers.accept);
    if (media instanceof ApiError) throw media;
    if (r.type.resource === 'selfsubjectaccessreviews') return selfSubjectAccessReview(req, res, user, r);
    if (r.type.resource === 'selfsubjectreviews') return selfSubjectReview(req, res, user, r);
    return resource(req, res, r, verb, url, media, user);
  }

  function nonResource(req: IncomingMessage, res: ServerResponse, user: UserInfo, url: URL): void {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const verb = (req.method ?? 'GET').toLowerCase() === 'get' ? 'get' : (req.method ?? '').toLowerCase();
    const denied = authz.check(user, { verb, path: url.pathname });
    if (denied) throw denied;
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'openapi' && segs[1] === 'v3' && verb === 'get') {
      const doc = segs.length === 2 ? { text: openapi.index(), hash: '' } : openapi.document(segs.slice(2).join('/'));
      if (!doc) throw pathNotFound();
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(doc.text),
        ...(doc.hash
          ? { ETag: `"${doc.hash}"`, 'Cache-Control': 'public, immutable' }
          : { 'Cache-Control': 'no-cache, private' }),
      });
      res.end(doc.text);
      return;
    }
    const aggregated = wantsAggregatedDiscovery(req.headers.accept);
    let doc: Record<string, unknown> | undefined;
    if (path === '/api') {
      if (aggregated) {
        sendJson(res, 200, aggregatedDiscovery(true), AGGREGATED_DISCOVERY_TYPE);
        return;
      }
      doc = apiVersions(serverAddress);
    } else if (path === '/apis') {
      if (aggregated) {
        sendJson(res, 200, aggregatedDiscovery(false), AGGREGATED_DISCOVERY_TYPE);
        return;
      }
      doc = apiGroupList();
    } else if (segs[0] === 'api' && segs.length === 2) doc = apiResourceList('', segs[1]!);
    else if (segs[0] === 'apis' && segs.length === 2) doc = apiGroupDoc(segs[1]!);
    else if (segs[0] === 'apis' && segs.length === 3) doc = apiResourceList(segs[1]!, segs[2]!);
    if (!doc) throw pathNotFound();
    if (verb !== 'get') throw methodNotAllowed();
    sendJson(res, 200, doc);
  }

  async function jsonBody(req: IncomingMessage): Promise<unknown> {
    const ct = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    const body = await readBody(req);
    if (ct === PROTOBUF_MEDIA_TYPE) return decodeProtobufObject(body);
    if (ct !== 'application/json' && ct !== '' && ct !== '*/*') throw unsupportedMediaType(['application/json']);
    return parseJsonBody(body);
  }

  function selectors(url: URL, type: ResourceType): Matcher {
    const ls = parseLabelSelector(url.searchParams.get('labelSelector'));
    if (typeof ls === 'string') throw badRequest(ls);
    const fs = parseFieldSelector(url.searchParams.get('fieldSelector'), type);
    if (typeof fs === 'string') throw badRequest(fs);
    return (o) => ls(o) && fs(o);
  }

  function render(
    r: ResourceRequest,
    media: MediaRequest,
    url: URL,
    objs: KubeObject[],
    rv: string | undefined,
    single: boolean,
    noHeaders = false,
  ): unknown {
    const withKind = (o: KubeObject) => registry.withKind(r.type, o);
    if (media.as === 'Table') {
      const include = (url.searchParams.get('includeObject') ?? 'Metadata') as IncludeObject;
      if (!['None', 'Metadata', 'Object'].includes(include))
        throw badRequest(
          `includeObject: Unsupported value: "${include}": supported values: "None", "Metadata", "Object"`,
        );
      const t = tableFor(r.type, typeKey(r.type), objs, { rv, include, noHeaders, withKind });
      t.apiVersion = `meta.k8s.io/${media.version}`;
      return t;
    }
    if (media.as === 'PartialObjectMetadata' || media.as === 'PartialObjectMetadataList') {
      const partial = (o: KubeObject) => ({
        kind: 'PartialObjectMetadata',
        apiVersion: `meta.k8s.io/${media.version}`,
        metadata: o.metadata,
      });
      if (single) return partial(objs[0]!);
      return {
        kind: 'PartialObjectMetadataList',
        apiVersion: `meta.k8s.io/${media.version}`,
        metadata: { resourceVersion: rv },
        items: objs.map(partial),
      };
    }
    return single ? withKind(objs[0]!) : objs;
  }

  async function resource(
    req: IncomingMessage,
    res: ServerResponse,
    r: ResourceRequest,
    verb: string,
    url: URL,
    media: MediaRequest,
    user: UserInfo,
  ): Promise<void> {
    const { type, namespace, name } = r;
    const dryRun = url.searchParams.getAll('dryRun').includes('All');
    const sub = r.subresource;
    const admit = (t: ResourceType, obj: KubeObject) => {
      const denied = checkEscalation(
        authz,
        store,
        user,
        t.group === 'rbac.authorization.k8s.io' ? t.resource : '',
        obj,
      );
      if (denied) throw denied;
    };
    if (sub === 'scale') return scale(req, res, r, verb, dryRun);
    if (sub === 'log') {
      const pod = registry.get(type, namespace, name!);
      const num = (p: string) => {
        const v = url.searchParams.get(p);
        if (v === null) return undefined;
        if (!/^\d+$/.test(v)) throw badRequest(`${p}: Invalid value: "${v}": must be a non-negative integer`);
        return Number(v);
      };
      const logOpts = {
        container: url.searchParams.get('container'),
        follow: isTrue(url.searchParams.get('follow')),
        tailLines: num('tailLines'),
        limitBytes: num('limitBytes'),
      };
      const uid = pod.metadata.uid;
      return servePodLog(
        res,
        pod,
        opts.runDir,
        logOpts,
        () => store.get('/pods', namespace, name!)?.metadata.uid === uid,
      );
    }
    switch (verb) {
      case 'get': {
        const o = registry.get(type, namespace, name!);
        return sendJson(res, 200, render(r, media, url, [o], o.metadata.resourceVersion, true));
      }
      case 'list':
        return list(res, r, url, media);
      case 'watch': {
        const rvParam = url.searchParams.get('resourceVersion') ?? undefined;
        if (parseWatchRV(rvParam) === undefined)
          throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a number`);
        const matchers = selectors(url, type);
        const byName: Matcher = name ? (o) => o.metadata.name === name : () => true;
        const timeout = url.searchParams.get('timeoutSeconds');
        let first = true;
        const end = serveWatch(res, store, {
          type,
          namespace,
          matches: (o) => byName(o) && matchers(o),
          resourceVersion: rvParam,
          allowBookmarks: isTrue(url.searchParams.get('allowWatchBookmarks')),
          timeoutSeconds: timeout !== null && /^\d+$/.test(timeout) ? Number(timeout) : undefined,
          encode:
            media.as === 'json'
              ? undefined
              : (o) => {
                  const doc = render(
                    r,
                    media.as === 'Table' ? media : { ...media, as: 'PartialObjectMetadata' },
                    url,
                    [o],
                    o.metadata.resourceVersion,
                    media.as !== 'Table',
                    !first,
                  );
                  first = false;
                  return doc;
                },
        });
        watches.add(end);
        res.on('close', () => watches.delete(end));
        return;
      }
      case 'create': {
        const body = await jsonBody(req);
        if (type.namespaced && namespace === undefined) throw methodNotAllowed();
        if (type.resource === 'serviceaccounts' && sub === 'token') return tokenRequest(res, r, body);
        if (type.resource === 'pods' && sub === 'binding') return bindPod(res, namespace!, name!, body);
        if (type.resource === 'bindings') {
          const podName = (body as { metadata?: { name?: unknown } }).metadata?.name;
          if (typeof podName !== 'string' || podName === '')
            throw badRequest('Binding metadata.name (the pod) is required');
          return bindPod(res, namespace!, podName, body);
        }
        if (name) throw methodNotAllowed();
        const created = registry.create(type, namespace, body, { dryRun, admit });
        log.debug({ user: user.name, kind: type.kind, ns: namespace, name: created.metadata.name }, 'created');
        return answer(res, 201, created);
      }
      case 'update': {
        const body = await jsonBody(req);
        if (!name) throw methodNotAllowed();
        return answer(res, 200, registry.update(type, namespace, name, body, sub, { dryRun, admit }));
      }
      case 'patch': {
        if (!name) throw methodNotAllowed();
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        const raw = await readBody(req);
        if (!PATCH_TYPES.includes(ct)) throw unsupportedMediaType(PATCH_TYPES.concat('application/apply-patch+yaml'));
        return answer(res, 200, registry.patch(type, namespace, name, ct, parseJsonBody(raw), sub, { dryRun, admit }));
      }
      case 'delete': {
        const options = await deleteOptions(req, url);
        const last = registry.delete(type, namespace, name!, options);
        if (type.returnsObjectOnDelete) return answer(res, 200, last);
        return answer(res, 200, successStatus(type, name!, last.metadata.uid));
      }
      case 'deletecollection': {
        const options = await deleteOptions(req, url);
        const matches = selectors(url, type);
        const deleted = registry
          .list(type, namespace)
          .items.filter(matches)
          .map((o) => registry.delete(type, o.metadata.namespace, o.metadata.name!, options));
        return answer(res, 200, {
          kind: `${type.kind}List`,
          apiVersion: groupVersion(type),
          metadata: { resourceVersion: String(store.rv) },
          items: deleted.map(({ kind: _k, apiVersion: _a, ...o }) => o),
        });
      }
    }
  }

  /** scale serves the scale subresource of apps workloads (kubectl scale). */
  async function scale(
    req: IncomingMessage,
    res: ServerResponse,
    r: ResourceRequest,
    verb: string,
    dryRun: boolean,
  ): Promise<void> {
    const name = r.name!;
    if (verb === 'get') return sendJson(res, 200, registry.getScale(r.type, r.namespace, name));
    let body: unknown;
    if (verb === 'update') body = await jsonBody(req);
    else {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const raw = parseJsonBody(await readBody(req));
      body = registry.applyPatch(r.type, name, ct, registry.getScale(r.type, r.namespace, name), raw);
    }
    await answer(res, 200, registry.updateScale(r.type, r.namespace, name, body, { dryRun }));
  }

  function list(res: ServerResponse, r: ResourceRequest, url: URL, media: MediaRequest): void {
    const matches = selectors(url, r.type);
    let { items, rv } = registry.list(r.type, r.namespace);
    items = items.filter(matches);
    const cont = url.searchParams.get('continue');
    if (cont) {
      const tok = decodeContinue(cont);
      items = items.filter((o) => objectKey(o) >= tok.start);
    }
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam !== null && /^\d+$/.test(limitParam) ? Number(limitParam) : 0;
    const meta: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      meta.continue = encodeContinue(rv, objectKey(items[limit]!));
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const rendered = render(r, media, url, items, String(rv), false);
    if (media.as !== 'json') {
      (rendered as Record<string, unknown>).metadata = meta;
      sendJson(res, 200, rendered);
      return;
    }
    sendJson(res, 200, {
      kind: `${r.type.kind}List`,
      apiVersion: groupVersion(r.type),
      metadata: meta,
      items: rendered,
    });
  }

  async function deleteOptions(req: IncomingMessage, url: URL): Promise<DeleteOptions> {
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      const parsed = parseJsonBody(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw badRequest('DeleteOptions must be a JSON object');
      body = parsed as Record<string, unknown>;
    }
    const policy = (url.searchParams.get('propagationPolicy') ??
      body.propagationPolicy) as DeleteOptions['propagationPolicy'];
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy))
      throw badRequest(
        `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      );
    const dryRun =
      url.searchParams.getAll('dryRun').includes('All') || (Array.isArray(body.dryRun) && body.dryRun.includes('All'));
    const orphan = body.orphanDependents === true || url.searchParams.get('orphanDependents') === 'true';
    return {
      propagationPolicy: orphan ? 'Orphan' : policy,
      preconditions: (body.preconditions as DeleteOptions['preconditions']) ?? undefined,
      dryRun,
    };
  }

  function tokenRequest(res: ServerResponse, r: ResourceRequest, body: unknown): void {
    const sa = registry.get(r.type, r.namespace, r.name!);
    const spec = (body as { spec?: { expirationSeconds?: number; audiences?: string[] } }).spec ?? {};
    const seconds = Math.min(Math.max(Number(spec.expirationSeconds ?? 3600) || 3600, 600), 48 * 3600);
    const exp = Math.floor(Date.now() / 1000) + seconds;
    const token = authn.issueServiceAccountToken(r.namespace!, r.name!, sa.metadata.uid!, exp);
    sendJson(res, 201, {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: r.name, namespace: r.namespace, creationTimestamp: null },
      spec: {
        audiences: spec.audiences ?? ['https://kubernetes.default.svc.cluster.local'],
        expirationSeconds: seconds,
        boundObjectRef: null,
      },
      status: { token, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, 'Z') },
    });
  }

  /** bindPod assigns a pod to a node once, like the scheduler's Binding (pods/binding or bindings). */
  async function bindPod(res: ServerResponse, namespace: string, podName: string, body: unknown): Promise<void> {
    const target = (body as { target?: { kind?: string; name?: string } }).target;
    if (!target?.name) throw badRequest('Binding target name is required');
    const pods = findType('', 'v1', 'pods')!;
    const pod = registry.get(pods, namespace, podName);
    if (pod.spec?.nodeName)
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on pods/binding "${podName}": pod ${podName} is already assigned to node "${pod.spec.nodeName}"`,
        { name: podName, kind: 'pods/binding' },
      );
    const next = structuredClone(pod);
    next.spec.nodeName = target.name;
    registry.update(pods, namespace, podName, next, undefined);
    await answer(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  }

  // SelfSubjectReview (authentication.k8s.io/v1): the requester's own user info, as authenticated.
  function selfSubjectReview(req: IncomingMessage, res: ServerResponse, user: UserInfo, r: ResourceRequest): void {
    if (req.method !== 'POST') throw methodNotAllowed();
    req.resume();
    sendJson(res, 201, {
      kind: r.type.kind,
      apiVersion: groupVersion(r.type),
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: user.name, groups: user.groups } },
    });
  }

  async function selfSubjectAccessReview(
    req: IncomingMessage,
    res: ServerResponse,
    user: UserInfo,
    r: ResourceRequest,
  ): Promise<void> {
    if (req.method !== 'POST') throw methodNotAllowed();
    const body = (await jsonBody(req)) as {
      spec?: { resourceAttributes?: Record<string, string>; nonResourceAttributes?: Record<string, string> };
    };
    const ra = body?.spec?.resourceAttributes;
    const nra = body?.spec?.nonResourceAttributes;
    if (!ra && !nra) throw badRequest('exactly one of nonResourceAttributes or resourceAttributes must be specified');
    const allowed = ra
      ? authz.allowed(user, {
          verb: ra.verb ?? '',
          apiGroup: ra.group ?? '',
          resource: ra.resource ?? '',
          subresource: ra.subresource || undefined,
          namespace: ra.namespace || undefined,
          name: ra.name || undefined,
        })
      : authz.allowed(user, { verb: nra!.verb ?? '', path: nra!.path ?? '' });
    sendJson(res, 201, {
      kind: r.type.kind,
      apiVersion: groupVersion(r.type),
      metadata: { creationTimestamp: null },
      spec: body.spec,
      status: allowed ? { allowed: true, reason: 'RBAC: allowed' } : { allowed: false },
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 16443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  serverAddress = `${hostPart}:${port}`;
  const url = `https://${serverAddress}`;
  log.info({ url, rv: store.rv }, 'sandbox API server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    caCertPath: pki.caCertPath,
    caCertPem: pki.caCertPem,
    tokens,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const end of watches) end();
        for (const ws of wss.clients) ws.terminate();
        registry.close();
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
        for (const sock of sockets) sock.destroy();
      });
      return closing;
    },
  };
}
