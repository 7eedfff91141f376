// The undo journal: every kernel object, file and process the sandbox makes
// is recorded here *before* it is made, so `devnet sandbox down` can remove
// it all even after the supervisor crashed half-way (ARCHITECTURE.md,
// "nothing left behind after a crash"). Undo is idempotent: an entry whose
// object is already gone is simply skipped.
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import type { Exec } from './exec.ts';

/** JournalEntry is one thing the sandbox made. */
export type JournalEntry =
  | { kind: 'netns'; name: string }
  | { kind: 'route'; args: string[] }
  | { kind: 'path'; path: string }
  | { kind: 'emptydir'; path: string }
  | { kind: 'process'; pid: number; start: string };

/** Journal appends entries to a file and undoes them in reverse order. */
export class Journal {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** record appends an entry and flushes it to disk before returning. */
  record(entry: JournalEntry): void {
    const fd = openSync(this.file, 'a');
    try {
      appendFileSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** entries reads the journal; lines that do not parse (a torn last write) are skipped. */
  entries(): JournalEntry[] {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as JournalEntry);
      } catch {
        // a torn write from a crash: nothing was made after it
      }
    }
    return out;
  }

  /** undo removes everything recorded, newest first, then the journal itself; it returns what it could not undo. */
  async undo(exec: Exec): Promise<string[]> {
    const failures: string[] = [];
    const entries = this.entries().reverse();
    // Processes first (they hold namespaces and sockets), then kernel objects, then files.
    const order: JournalEntry['kind'][] = ['process', 'netns', 'route', 'path', 'emptydir'];
    for (const kind of order) {
      for (const e of entries) {
        if (e.kind !== kind) continue;
        const err = await undoEntry(e, exec).catch((x: Error) => x.message);
        if (err) failures.push(err);
      }
    }
    rmSync(this.file, { force: true });
    return failures;
  }
}

/** processStartTime reads a process's start time (field 22 of /proc/PID/stat), so a recycled PID is never killed. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function undoEntry(e: JournalEntry, exec: Exec): Promise<string | undefined> {
  switch (e.kind) {
    case 'process':
      return killGroup(e.pid, e.start);
    case 'netns': {
      const list = await exec('ip', ['netns', 'list']);
      if (!list.split('\n').some((l) => l.split(' ')[0] === e.name)) return undefined;
      await exec('ip', ['netns', 'del', e.name]);
      return undefined;
    }
    case 'route':
      await exec('ip', ['route', 'del', ...e.args]).catch((err: Error) => {
        if (!/No such process|not found|No such file/.test(err.message)) throw err;
      });
      return undefined;
    case 'path':
      rmSync(e.path, { recursive: true, force: true });
      return undefined;
    case 'emptydir':
      // a shared directory we created (e.g. /etc/netns): removed only if nothing else uses it
      try {
        rmdirSync(e.path);
      } catch {
        // not empty, or already gone
      }
      return undefined;
  }
}

/** killGroup stops a process group led by pid (TERM, then KILL after 3 s) if pid is still the process recorded. */
export async function killGroup(pid: number, start: string): Promise<string | undefined> {
  if (processStartTime(pid) !== start) return undefined;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 60; i++) {
    if (processStartTime(pid) !== start) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal('SIGKILL');
  for (let i = 0; i < 40; i++) {
    if (processStartTime(pid) !== start) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
  return `process ${pid} did not exit`;
}
