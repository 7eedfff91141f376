// The object store: every object the API server holds, one global
// resourceVersion counter (like etcd's revision), a bounded history of
// changes for watches, and durability on disk.
//
// Disk layout under `${stateDir}/store/`: `snapshot.json` (all objects at
// one revision, replaced by atomic rename) and `journal.log` (one JSON line
// per change after the snapshot). A torn last line (crash mid-append) is
// cut off at open. Restarting replays the journal into the watch history,
// so watches from before a restart resume when their revision is still
// covered, and get 410 Expired otherwise.
//
// Group commit: a change is appended to the journal and applied in memory
// at once; one fdatasync (off the event loop) then covers every change
// appended meanwhile. Only after it do watchers see the changes and
// flushed() resolve, so the API server answers a write only once it is on
// disk, and no watcher ever sees a change a machine crash could undo.
import {
  closeSync,
  existsSync,
  fdatasync,
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
export const HISTORY_LIMIT = 10_000;
/** COMPACT_BYTES is the journal size that triggers a new snapshot. */
export const COMPACT_BYTES = 16 * 1024 * 1024;

/** ObjectStore holds all objects, assigns resourceVersions and persists every change before it is visible. */
export class ObjectStore {
  #dir: string;
  #objects = new Map<string, Map<string, KubeObject>>();
  #rv = 0;
  #oldest = 0;
  #history: StoreEvent[] = [];
  /** #pending holds changes appended to the journal but not yet fdatasync'd (not yet visible to watchers). */
  #pending: StoreEvent[] = [];
  #syncing = false;
  #durableRV = 0;
  #waiters: { rv: number; resolve: () => void }[] = [];
  #closed = false;
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
    this.#durableRV = this.#rv;
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

  /** publishedRV is the newest revision watchers have been sent (durable); bookmarks must not run ahead of it. */
  get publishedRV(): number {
    return this.#durableRV;
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
      this.#record(this.#apply(rec));
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
    return { rv: rec.rv, type, key: rec.k, object: rec.o, prev };
  }

  #record(ev: StoreEvent): void {
    this.#history.push(ev);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#oldest = dropped[dropped.length - 1]!.rv;
    }
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
    if (this.#closed) throw new Error('the object store is closed');
    const line = Buffer.from(`${JSON.stringify(rec)}\n`);
    writeSync(this.#journalFd, line);
    this.#journalBytes += line.length;
    this.#pending.push(this.#apply(rec));
    this.#sync();
    if (this.#journalBytes > this.#compactBytes) this.compact();
  }

  /** #sync starts one fdatasync for everything appended so far, unless one is running (its end starts the next). */
  #sync(): void {
    if (this.#syncing || this.#pending.length === 0 || this.#closed) return;
    this.#syncing = true;
    const batch = this.#pending.splice(0);
    // An fdatasync error (a failing disk) cannot be undone here; the data is
    // in the page cache and the next sync retries, so publish regardless.
    fdatasync(this.#journalFd, () => {
      this.#syncing = false;
      if (this.#closed) return;
      this.#publish(batch);
      this.#sync();
    });
  }

  #publish(batch: StoreEvent[]): void {
    for (const ev of batch) {
      this.#record(ev);
      for (const fn of this.#subscribers) fn(ev);
    }
    this.#durableRV = batch[batch.length - 1]?.rv ?? this.#durableRV;
    const ready = this.#waiters.filter((w) => w.rv <= this.#durableRV);
    this.#waiters = this.#waiters.filter((w) => w.rv > this.#durableRV);
    for (const w of ready) w.resolve();
  }

  /** flushed resolves once every change made so far is on disk and published to watchers. */
  flushed(): Promise<void> {
    const rv = this.#rv;
    if (this.#pending.length === 0 && !this.#syncing) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ rv, resolve }));
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

  /** since returns the durable changes after revision rv (later ones reach subscribers), or undefined when they are no longer all kept. */
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

  /** subscribe calls fn for every change once it is durable, in revision order; returns the unsubscribe function. */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** close makes pending changes durable, releases the journal file and resolves flushed() waiters. */
  close(): void {
    if (this.#closed) return;
    fdatasyncSync(this.#journalFd);
    this.#closed = true;
    this.#subscribers.clear();
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    closeSync(this.#journalFd);
  }
}
