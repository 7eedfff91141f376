// Carrying out undo steps, and writing files so they can be undone: shared by
// the configurators' close() and by the helper's journal replay.
import { basename, dirname, join } from 'node:path';
import type { UndoStep } from './journal-types.ts';
import type { Exec, FileSystem } from './types.ts';

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * writeFileReplacing replaces a file's content: write a temporary file beside
 * it and rename it over (readers never see half a file); where the target is
 * a mount point (a bind-mounted /etc/resolv.conf: EBUSY) or rename is refused,
 * write in place instead. A symlink is never replaced: pass the real path.
 */
export async function writeFileReplacing(
  fs: FileSystem,
  path: string,
  data: Uint8Array | string,
  mode: number,
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.devnet-${process.pid}`);
  try {
    await fs.writeFile(tmp, data, { mode });
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, path);
    return;
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    if (!['EBUSY', 'EXDEV', 'EPERM', 'EACCES', 'EROFS'].includes(code(err) ?? '')) throw err;
  }
  await fs.writeFile(path, data);
  await fs.chmod(path, mode).catch(() => undefined);
}

/** readFileOrNull reads a file, or returns null when it does not exist. */
export async function readFileOrNull(fs: FileSystem, path: string): Promise<Uint8Array | null> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
}

/** applyUndoStep carries out one undo step: restore a file byte for byte (or delete it), or run a command. */
export async function applyUndoStep(step: UndoStep, deps: { fs: FileSystem; exec: Exec }): Promise<void> {
  if (step.kind === 'run') {
    await deps.exec(step.argv);
    return;
  }
  if (step.contentBase64 === null) {
    await deps.fs.unlink(step.path).catch((err) => {
      if (code(err) !== 'ENOENT') throw err;
    });
    return;
  }
  await writeFileReplacing(deps.fs, step.path, Buffer.from(step.contentBase64, 'base64'), step.mode ?? 0o644);
}
