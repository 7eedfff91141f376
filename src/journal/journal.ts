// The undo journal: every change devnet makes to the machine — the root
// helper's TUN links, addresses, routes and DNS files, and the sandbox's
// namespaces, routes, files and processes — is described here, on disk,
// BEFORE it is made. A clean shutdown replays the journal backwards and
// deletes it; a crash leaves it behind, and the next run replays it
// (ARCHITECTURE.md decisions 11, 13 and 14, "nothing left behind after a
// crash"). Undo steps are idempotent: undoing something that is already gone
// is success. This is the one journal module; the helper and the sandbox
// differ only in the steps they record.
//
// Format: JSON lines. An optional first line is a header naming the owning
// process (pid and its start time, so a recycled pid is not mistaken for the
// owner); each further line is one UndoStep (`{"step":{...}}`; a bare step,
// as older sandboxes wrote, is read too). Lines are appended with O_APPEND and
// fdatasync'd before record() returns; several processes may append to one
// journal (the sandbox's supervisor and its CLI do). The file is opened with
// O_NOFOLLOW: journals live in root's own folders, and root follows no link.
//
// Replay order: processes first (they hold namespaces and sockets), then
// every other step newest first.
import { closeSync, constants, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';

/** UndoStep is one way to take back one change. */
export type UndoStep =
  | { kind: 'restore-file'; path: string; contentBase64: string | null; mode?: number }
  | { kind: 'link-delete'; name: string }
  | { kind: 'addr-delete'; dev: string; cidr: string }
  | { kind: 'route-delete'; dst: string; dev?: string; type?: string; table?: string; metric?: number; netns?: string }
  | { kind: 'run'; argv: string[]; description: string; okExitCodes?: number[] }
  | { kind: 'netns'; name: string }
  | { kind: 'path'; path: string }
  | { kind: 'emptydir'; path: string }
  | { kind: 'process'; pid: number; start: string };

/** UndoJournal is what components that change the machine write to. */
export interface UndoJournal {
  /** record persists step before the change it undoes is made. */
  record(step: UndoStep): Promise<void>;
}

/** SyncJournal is a journal recorded from synchronous code (the sandbox). */
export interface SyncJournal {
  /** recordSync persists step before returning. */
  recordSync(step: UndoStep): void;
}

/** JournalOwner identifies the process whose changes a journal holds. */
export interface JournalOwner {
  pid: number;
  /** startTime is the process start time (clock ticks after boot, /proc/PID/stat field 22) or 0 if unknown. */
  startTime: number;
  description: string;
}

/** ExecResult is what running a command returned. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** UndoEnv is what replaying steps needs: a command runner, file access and process control, passed in. */
export interface UndoEnv {
  exec(argv: string[]): Promise<ExecResult>;
  writeFile(path: string, data: Uint8Array, mode?: number): Promise<void>;
  /** removeFile removes a file; a missing one is fine. */
  removeFile(path: string): Promise<void>;
  /** removeTree removes a file or a folder with everything in it; a missing one is fine. */
  removeTree(path: string): Promise<void>;
  /** removeEmptyDir removes a folder only if it is empty (another user of it keeps it). */
  removeEmptyDir(path: string): Promise<void>;
  /** stopProcess ends a process group if pid is still the process that started at `start`; an error message if it did not end. */
  stopProcess(pid: number, start: string): Promise<string | undefined>;
}

/** UndoFailure is a step that could not be undone, with why. */
export interface UndoFailure {
  step: UndoStep;
  error: string;
}

/** ipArgs is the `ip` command that undoes a network step, or undefined for other kinds. */
export function ipArgs(step: UndoStep): string[] | undefined {
  switch (step.kind) {
    case 'link-delete':
      return ['ip', 'link', 'del', 'dev', step.name];
    case 'netns':
      return ['ip', 'netns', 'del', step.name];
    case 'addr-delete':
      return ['ip', 'addr', 'del', step.cidr, 'dev', step.dev];
    case 'route-delete': {
      const args = ['ip'];
      if (step.netns) args.push('-n', step.netns);
      args.push('route', 'del');
      if (step.type) args.push(step.type);
      args.push(step.dst);
      if (step.dev) args.push('dev', step.dev);
      if (step.table) args.push('table', step.table);
      if (step.metric !== undefined) args.push('metric', String(step.metric));
      return args;
    }
    default:
      return undefined;
  }
}

// `ip` says these when the thing to delete is already gone; that is success.
const ALREADY_GONE =
  /Cannot find device|No such device|No such process|Cannot assign requested address|does not exist|No such file|not found/i;

/** undoStep takes back one change; it resolves to an error message, or undefined on success. */
export async function undoStep(step: UndoStep, env: UndoEnv): Promise<string | undefined> {
  try {
    switch (step.kind) {
      case 'restore-file':
        if (step.contentBase64 === null) await env.removeFile(step.path);
        else await env.writeFile(step.path, Buffer.from(step.contentBase64, 'base64'), step.mode);
        return undefined;
      case 'path':
        await env.removeTree(step.path);
        return undefined;
      case 'emptydir':
        await env.removeEmptyDir(step.path);
        return undefined;
      case 'process':
        return await env.stopProcess(step.pid, step.start);
      case 'netns': {
        const list = await env.exec(['ip', 'netns', 'list']);
        if (!list.stdout.split('\n').some((l) => l.split(' ')[0] === step.name)) return undefined;
        break;
      }
      default:
        break;
    }
    const argv = step.kind === 'run' ? step.argv : (ipArgs(step) as string[]);
    const r = await env.exec(argv);
    const ok = step.kind === 'run' ? (step.okExitCodes ?? [0]).includes(r.code) : r.code === 0;
    if (ok || (step.kind !== 'run' && ALREADY_GONE.test(r.stderr))) return undefined;
    return `${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** parseJournal reads journal text; malformed lines (a torn final write) are skipped. */
export function parseJournal(text: string): { owner: JournalOwner | undefined; steps: UndoStep[] } {
  let owner: JournalOwner | undefined;
  const steps: UndoStep[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const o = v as Record<string, unknown>;
    if (o.owner && typeof o.owner === 'object') owner = o.owner as JournalOwner;
    else if (o.step && typeof o.step === 'object' && typeof (o.step as { kind?: unknown }).kind === 'string') {
      steps.push(o.step as UndoStep);
    } else if (typeof o.kind === 'string') steps.push(o as unknown as UndoStep);
  }
  return { owner, steps };
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

/** FileJournal is an UndoJournal kept in one file. */
export class FileJournal implements UndoJournal, SyncJournal {
  readonly path: string;
  #steps: UndoStep[] = [];
  #chain: Promise<void> = Promise.resolve();
  #shared = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * shared opens a journal that several processes append to (the sandbox's):
   * nothing is read or truncated; replay reads the file as it then is.
   */
  static shared(path: string): FileJournal {
    const j = new FileJournal(path);
    j.#shared = true;
    return j;
  }

  recordSync(step: UndoStep): void {
    this.#steps.push(step);
    const fd = openSync(this.path, APPEND, 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ step })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** readSync is read() for synchronous callers. */
  readSync(): UndoStep[] {
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return [];
    }
    return parseJournal(text).steps;
  }

  /** read returns the steps on disk now, oldest first (every writer's). */
  async read(): Promise<UndoStep[]> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    return parseJournal(text).steps;
  }

  /**
   * create starts a new journal at path for owner. It refuses to overwrite a
   * journal that still holds steps: replay that one first (recover()).
   */
  static async create(path: string, owner: JournalOwner): Promise<FileJournal> {
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    if (existing !== undefined && parseJournal(existing).steps.length > 0) {
      throw new Error(`undo journal ${path} still holds changes from an earlier run; undo them first`);
    }
    const j = new FileJournal(path);
    await j.#append(`${JSON.stringify({ owner })}\n`, 'w');
    return j;
  }

  record(step: UndoStep): Promise<void> {
    this.#steps.push(step);
    return this.#enqueue(`${JSON.stringify({ step })}\n`);
  }

  /** steps returns the recorded steps, oldest first. */
  get steps(): readonly UndoStep[] {
    return this.#steps;
  }

  /**
   * undoAll replays every step (see "Replay order"), then removes the file if
   * all succeeded — a shared journal's file in any case: a step that could
   * not be undone is reported, and replaying it again would fail again.
   */
  async undoAll(env: UndoEnv): Promise<UndoFailure[]> {
    await this.#chain;
    const steps = this.#shared ? await this.read() : this.#steps;
    const failures = await replay(steps, env);
    if (failures.length === 0 || this.#shared) {
      this.#steps = [];
      await rm(this.path, { force: true });
    }
    return failures;
  }

  #enqueue(text: string): Promise<void> {
    const p = this.#chain.then(() => this.#append(text, 'a'));
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #append(text: string, flags: 'a' | 'w'): Promise<void> {
    const mode =
      flags === 'a' ? APPEND : constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    const fh = await open(this.path, mode, 0o600);
    try {
      await fh.writeFile(text);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
}

/** replay undoes processes first, then every other step newest first, and returns those that failed. */
export async function replay(steps: readonly UndoStep[], env: UndoEnv): Promise<UndoFailure[]> {
  const failures: UndoFailure[] = [];
  const newestFirst = [...steps].reverse();
  const ordered = [
    ...newestFirst.filter((s) => s.kind === 'process'),
    ...newestFirst.filter((s) => s.kind !== 'process'),
  ];
  for (const step of ordered) {
    const error = await undoStep(step, env);
    if (error !== undefined) failures.push({ step, error });
  }
  return failures;
}

/** RecoverResult says what recover() found and did. */
export type RecoverResult =
  | { state: 'none' }
  | { state: 'owner-alive'; owner: JournalOwner }
  | { state: 'undone'; owner: JournalOwner | undefined; steps: number; failures: UndoFailure[] };

/**
 * recover replays a journal left by a process that is gone. isAlive decides
 * whether the recorded owner still runs (pid and start time must both match);
 * a live owner's journal is left alone.
 */
export async function recover(
  path: string,
  env: UndoEnv,
  isAlive: (o: JournalOwner) => Promise<boolean>,
): Promise<RecoverResult> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return { state: 'none' };
  const { owner, steps } = parseJournal(text);
  if (owner && (await isAlive(owner))) return { state: 'owner-alive', owner };
  const failures = await replay(steps, env);
  if (failures.length === 0) await rm(path, { force: true });
  return { state: 'undone', owner, steps: steps.length, failures };
}
