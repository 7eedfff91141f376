// The object store: every object the API server holds, one global
// resourceVersion counter (like etcd's revision), a bounded history of
// changes for watches, and durability on disk.
//
// Disk layout under `${stateDir}/store/`: `snapshot.json` (all objects at
// one revision, replaced by atomic rename) and `journal.log` (one JSON line
// per change after the snapshot, fdatasync'd before the write is
// acknowledged). A torn last line (crash mid-append) is cut off at open.
// Restarting replays the journal into the watch history, so watches from
// before a restart resume when their revision is still covered, and get 410
// Expired otherwise.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { DevnetError } from '../../errors.ts';
import { writeFileAtomic } from './files.ts';
import { type KubeObject, objectKey } from './object.ts';

/** WatchEventType is the kind of a stored change. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** StoreEvent is one change: the object after it (the last state for DELETED) and the object before it. */
export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  /** key is the type's storage key (see resources.ts typeKey). */
  key: string;
  object: KubeObject;
  prev: KubeObject | undefined;
}

interface JournalRecord {
  rv: number;
  op: 'put' | 'del';
  k: string;
  o: KubeObject;
}

/** HISTORY_LIMIT bounds the in-memory change history that watches replay from. */
export const HISTORY_LIMIT = 20_000;
/** COMPACT_BYTES is the journal size that triggers a new snapshot. */
export const COMPACT_BYTES = 16 * 1024 * 1024;

/** ObjectStore holds all objects, assigns resourceVersions and persists every change before it is visible. */
export class ObjectStore {
  #dir: string;
  #objects = new Map<string, Map<string, KubeObject>>();
  #rv = 0;
  #oldest = 0;
  #history: StoreEvent[] = [];
  #subscribers = new Set<(e: StoreEvent) => void>();
  #journalFd: number;
  #journalBytes = 0;
  #historyLimit: number;
  #compactBytes: number;

  private constructor(dir: string, historyLimit: number, compactBytes: number) {
    this.#dir = dir;
    this.#historyLimit = historyLimit;
    this.#compactBytes = compactBytes;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#load();
    this.#journalFd = openSync(join(dir, 'journal.log'), 'a', 0o600);
  }

  /** open loads (or creates) the store under `${stateDir}/store`. */
  static open(stateDir: string, opts: { historyLimit?: number; compactBytes?: number } = {}): ObjectStore {
    return new ObjectStore(
      join(stateDir, 'store'),
      opts.historyLimit ?? HISTORY_LIMIT,
      opts.compactBytes ?? COMPACT_BYTES,
    );
  }

  /** rv is the current revision: the resourceVersion of the newest change. */
  get rv(): number {
    return this.#rv;
  }

  /** oldestRV is the oldest revision a watch may start from; every change after it is in the history. */
  get oldestRV(): number {
    return this.#oldest;
  }

  #load(): void {
    const snapPath = join(this.#dir, 'snapshot.json');
    if (existsSync(snapPath)) {
      let snap: { rv: number; objects: { k: string; o: KubeObject }[] };
      try {
        snap = JSON.parse(readFileSync(snapPath, 'utf8'));
      } catch (err) {
        throw new DevnetError('internal', `the sandbox API server's snapshot ${snapPath} is unreadable`, {
          cause: err,
          hint: 'run `devnet sandbox down --purge` to start from an empty cluster',
        });
      }
      for (const { k, o } of snap.objects) this.#bucket(k).set(objectKey(o), o);
      this.#rv = snap.rv;
    }
    this.#oldest = this.#rv;
    const journalPath = join(this.#dir, 'journal.log');
    if (!existsSync(journalPath)) return;
    const buf = readFileSync(journalPath);
    let offset = 0;
    while (offset < buf.length) {
      const nl = buf.indexOf(0x0a, offset);
      if (nl < 0) break;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(buf.subarray(offset, nl).toString('utf8'));
      } catch {
        break;
      }
      offset = nl + 1;
      if (rec.rv <= this.#rv) continue; // already in the snapshot (crash between rename and truncate)
      this.#apply(rec);
    }
    if (offset < buf.length) {
      // Torn or corrupt tail: keep the good prefix only.
      const fd = openSync(journalPath, 'r+');
      ftruncateSync(fd, offset);
      fsyncSync(fd);
      closeSync(fd);
    }
    this.#journalBytes = offset;
  }

  #bucket(key: string): Map<string, KubeObject> {
    let b = this.#objects.get(key);
    if (!b) {
      b = new Map();
      this.#objects.set(key, b);
    }
    return b;
  }

  #apply(rec: JournalRecord): StoreEvent {
    const bucket = this.#bucket(rec.k);
    const id = objectKey(rec.o);
    const prev = bucket.get(id);
    let type: WatchEventType;
    if (rec.op === 'del') {
      bucket.delete(id);
      type = 'DELETED';
    } else {
      bucket.set(id, rec.o);
      type = prev ? 'MODIFIED' : 'ADDED';
    }
    this.#rv = rec.rv;
    const ev: StoreEvent = { rv: rec.rv, type, key: rec.k, object: rec.o, prev };
    this.#history.push(ev);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#oldest = dropped[dropped.length - 1]!.rv;
    }
    return ev;
  }

  /** get returns the stored object (shared: callers must clone before changing it). */
  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#objects.get(key)?.get(`${namespace ?? ''}/${name}`);
  }

  /** list returns a type's objects, in one namespace or all, sorted by namespace and name. */
  list(key: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const o of this.#objects.get(key)?.values() ?? []) {
      if (namespace === undefined || o.metadata.namespace === namespace) out.push(o);
    }
    return out.sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : objectKey(a) > objectKey(b) ? 1 : 0));
  }

  /** keys lists the storage keys that hold objects. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  /** put stores an object under the next revision (written to disk first) and returns it. */
  put(key: string, obj: KubeObject): KubeObject {
    obj.metadata.resourceVersion = String(this.#rv + 1);
    this.#commit({ rv: this.#rv + 1, op: 'put', k: key, o: obj });
    return obj;
  }

  /** remove deletes an object; its last state, stamped with the deletion's revision, is returned. */
  remove(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const cur = this.get(key, namespace, name);
    if (!cur) return undefined;
    const last = structuredClone(cur);
    last.metadata.resourceVersion = String(this.#rv + 1);
    this.#commit({ rv: this.#rv + 1, op: 'del', k: key, o: last });
    return last;
  }

  #commit(rec: JournalRecord): void {
    const line = Buffer.from(`${JSON.stringify(rec)}\n`);
    writeSync(this.#journalFd, line);
    fdatasyncSync(this.#journalFd);
    this.#journalBytes += line.length;
    const ev = this.#apply(rec);
    for (const fn of this.#subscribers) fn(ev);
    if (this.#journalBytes > this.#compactBytes) this.compact();
  }

  /** compact writes a snapshot of the current state (atomic rename) and empties the journal. */
  compact(): void {
    const objects: { k: string; o: KubeObject }[] = [];
    for (const [k, bucket] of this.#objects) for (const o of bucket.values()) objects.push({ k, o });
    writeFileAtomic(join(this.#dir, 'snapshot.json'), JSON.stringify({ rv: this.#rv, objects }), 0o600);
    ftruncateSync(this.#journalFd, 0);
    fsyncSync(this.#journalFd);
    this.#journalBytes = 0;
  }

  /** since returns the changes after revision rv, or undefined when they are no longer all kept. */
  since(rv: number): StoreEvent[] | undefined {
    if (rv < this.#oldest) return undefined;
    // History is sorted by rv: binary search the first event after rv.
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }

  /** subscribe calls fn synchronously after every committed change; returns the unsubscribe function. */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** close releases the journal file. */
  close(): void {
    this.#subscribers.clear();
    closeSync(this.#journalFd);
  }
}
