// The undo journal's interface as agreed with the helper (src/helper/journal.ts
// implements it; this copy lets the DNS configurators compile before it
// lands, and the lead will unify the two). A step is persisted to disk BEFORE
// the change it undoes is made; undo replays steps in reverse order, at quit
// or, after a crash, at the next run.

/** UndoStep is one persisted way to put the system back. */
export type UndoStep =
  | {
      kind: 'restore-file';
      path: string;
      /** contentBase64 is the file's original bytes; null means the file did not exist (undo deletes it). */
      contentBase64: string | null;
      mode?: number;
    }
  | { kind: 'run'; argv: string[]; description: string };

/** UndoJournal records undo steps durably before each change. */
export interface UndoJournal {
  record(step: UndoStep): Promise<void>;
}
