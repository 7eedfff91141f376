// Watch streams: `?watch=true` answers 200 with one JSON event per line
// (`{"type":..,"object":..}`), following the apiserver's semantics:
// resourceVersion unset or "0" → synthetic ADDED for current objects, then
// changes; RV=N → changes after N; N older than the kept history → one
// ERROR event carrying a 410 Expired Status, then the end of the stream.
// Objects entering a selector arrive as ADDED, leaving it as DELETED (with
// the last state that matched); BOOKMARKs only when asked for; the stream
// ends cleanly after timeoutSeconds.
import type { ServerResponse } from 'node:http';
import type { KubeObject } from './object.ts';
import { groupVersion, type ResourceType, typeKey } from './resources.ts';
import type { Matcher } from './selectors.ts';
import { expired } from './status.ts';
import type { ObjectStore, StoreEvent, WatchEventType } from './store.ts';

/** WatchParams are the decoded query parameters of one watch. */
export interface WatchParams {
  type: ResourceType;
  namespace: string | undefined;
  matches: Matcher;
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  timeoutSeconds: number | undefined;
  /** encode renders an event's object; the default is the object with kind and apiVersion. */
  encode?: (obj: KubeObject, eventType: string) => unknown;
}

/** WATCH_BUFFER_LIMIT is how much unsent output a slow watcher may accumulate before it is cut off (it will relist). */
export const WATCH_BUFFER_LIMIT = 16 * 1024 * 1024;
/** BOOKMARK_INTERVAL_MS is how often a watch that allows bookmarks gets one. */
export const BOOKMARK_INTERVAL_MS = 60_000;

/** parseWatchRV returns the numeric revision of a watch's resourceVersion, 0 for "from now with initial state", or undefined when malformed. */
export function parseWatchRV(rv: string | undefined): number | undefined {
  if (rv === undefined || rv === '' || rv === '0') return 0;
  return /^[1-9][0-9]{0,15}$/.test(rv) ? Number(rv) : undefined;
}

/** serveWatch streams events to res until timeout, client disconnect or server close; returns a function that ends it. */
export function serveWatch(res: ServerResponse, store: ObjectStore, p: WatchParams): () => void {
  const key = typeKey(p.type);
  const withKind = (o: KubeObject) => ({ apiVersion: groupVersion(p.type), kind: p.type.kind, ...o });
  const encode = p.encode ?? ((o: KubeObject) => withKind(o));
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = () => {};
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
  };
  res.on('close', end);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();

  const send = (type: string, obj: unknown) => {
    if (ended) return;
    res.write(`${JSON.stringify({ type, object: obj })}\n`);
    if (res.writableLength > WATCH_BUFFER_LIMIT) {
      ended = true;
      unsubscribe();
      res.destroy();
    }
  };
  const inScope = (o: KubeObject) => p.namespace === undefined || o.metadata.namespace === p.namespace;
  let start = 0;
  const deliver = (ev: StoreEvent) => {
    if (ev.rv <= start || ev.key !== key || !inScope(ev.object)) return;
    const now = p.matches(ev.object);
    const before = ev.prev !== undefined && p.matches(ev.prev);
    let type: WatchEventType | undefined;
    let obj = ev.object;
    if (ev.type === 'ADDED') type = now ? 'ADDED' : undefined;
    else if (ev.type === 'DELETED') type = now ? 'DELETED' : undefined;
    else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) {
      type = 'DELETED';
      obj = { ...ev.prev!, metadata: { ...ev.prev!.metadata, resourceVersion: String(ev.rv) } };
    }
    if (type) send(type, encode(obj, type));
  };

  // Changes at or before `start` are already reflected (initial state) or
  // were asked to be skipped; changes still being made durable arrive through
  // the subscription, so filter by revision rather than by arrival.
  const rv = parseWatchRV(p.resourceVersion);
  start = rv ?? 0;
  if (rv === 0) {
    start = store.rv;
    for (const o of store.list(key, p.namespace)) if (p.matches(o)) send('ADDED', encode(o, 'ADDED'));
  } else {
    const history = store.since(start);
    if (history === undefined) {
      send('ERROR', expired(p.resourceVersion ?? '', store.oldestRV).status());
      end();
      return end;
    }
    for (const ev of history) deliver(ev);
  }
  unsubscribe = store.subscribe(deliver);

  const bookmark = () =>
    send('BOOKMARK', {
      apiVersion: groupVersion(p.type),
      kind: p.type.kind,
      // Only what has been published: pending changes reach this watch later.
      metadata: { resourceVersion: String(Math.max(start, store.publishedRV)) },
    });
  if (p.allowBookmarks) {
    const tick = () => {
      bookmark();
      timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
    };
    timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
  }
  // Like the apiserver, a watch without timeoutSeconds still ends after a random 30-60 minutes.
  const timeout = p.timeoutSeconds ?? 1800 * (1 + Math.random());
  timers.push(
    setTimeout(() => {
      if (p.allowBookmarks) bookmark();
      end();
    }, timeout * 1000).unref(),
  );
  return end;
}
