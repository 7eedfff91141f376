// Writing and reading the files the configurators change, so that what they
// journal (src/journal/journal.ts) restores them exactly.
import { basename, dirname, join } from 'node:path';
import type { FileSystem } from './types.ts';

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
