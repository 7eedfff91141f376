// Errors that cross component and process boundaries carry a category, so
// the CLI can tell the user what kind of problem it is and what to do
// (ARCHITECTURE.md decision 15, after Telepresence's errcat).

/** ErrorCategory says whose move it is: the user's input, local config, the cluster, or a devnet bug. */
export type ErrorCategory = 'user' | 'config' | 'cluster' | 'internal';

/** DevnetError is an error with a category and an optional hint saying what to do. */
export class DevnetError extends Error {
  readonly category: ErrorCategory;
  readonly hint: string | undefined;

  constructor(category: ErrorCategory, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DevnetError';
    this.category = category;
    this.hint = opts.hint;
  }

  /** toJSON is the shape that crosses the control socket. */
  toJSON(): { category: ErrorCategory; message: string; hint?: string } {
    return this.hint === undefined
      ? { category: this.category, message: this.message }
      : { category: this.category, message: this.message, hint: this.hint };
  }

  /** fromJSON rebuilds an error received over the control socket, defaulting unknown shapes to internal. */
  static fromJSON(v: unknown): DevnetError {
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    const cat = o.category;
    const category: ErrorCategory =
      cat === 'user' || cat === 'config' || cat === 'cluster' || cat === 'internal' ? cat : 'internal';
    const message = typeof o.message === 'string' ? o.message : 'unknown error';
    return typeof o.hint === 'string'
      ? new DevnetError(category, message, { hint: o.hint })
      : new DevnetError(category, message);
  }
}

/** asDevnetError categorises any thrown value; unknown errors are internal. */
export function asDevnetError(err: unknown): DevnetError {
  if (err instanceof DevnetError) return err;
  if (err instanceof Error) return new DevnetError('internal', err.message, { cause: err });
  return new DevnetError('internal', String(err));
}

/** exitCodeFor maps a category to the CLI's exit status. */
export function exitCodeFor(category: ErrorCategory): number {
  switch (category) {
    case 'user':
      return 2;
    case 'config':
      return 3;
    case 'cluster':
      return 4;
    case 'internal':
      return 70;
  }
}
