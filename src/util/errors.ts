/**
 * An error caused by the user's input (flag, config, file). The CLI prints its message as one line
 * and exits with code 2.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function usage(message: string): never {
  throw new UsageError(message);
}

/** Exit codes of the CLI (documented in docs/failures.md). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Filesystem errors caused by the path the user gave (it exists as something else, it is not
 * writable, it is read-only) exit 2; the rest (full disk, I/O, too many open files) exit 1.
 */
const FS_ADVICE: Record<string, { what: string; fix: string; code: number }> = {
  EEXIST: { what: 'already exists', fix: 'remove it or choose another path', code: EXIT.usage },
  EACCES: { what: 'permission denied', fix: 'choose a path you can write (or fix its permissions)', code: EXIT.usage },
  EPERM: { what: 'operation not permitted', fix: 'choose a path you can write (or fix its permissions)', code: EXIT.usage },
  EROFS: { what: 'is on a read-only filesystem', fix: 'choose a writable path', code: EXIT.usage },
  ENOTDIR: { what: 'a part of the path is a file, not a directory', fix: 'choose another path', code: EXIT.usage },
  EISDIR: { what: 'is a directory where a file is expected', fix: 'name a file, or remove the directory', code: EXIT.usage },
  ENOENT: { what: 'not found', fix: 'check the path', code: EXIT.usage },
  ENAMETOOLONG: { what: 'name too long', fix: 'choose a shorter path', code: EXIT.usage },
  ELOOP: { what: 'too many symbolic links (a link loop)', fix: 'fix the links or choose another path', code: EXIT.usage },
  ENOSPC: { what: 'no space left on the device', fix: 'free some space, then rerun (finished work is kept)', code: EXIT.failure },
  EDQUOT: { what: 'disk quota exceeded', fix: 'free some space, then rerun (finished work is kept)', code: EXIT.failure },
  EIO: { what: 'input/output error', fix: 'check the disk, then rerun', code: EXIT.failure },
  EMFILE: { what: 'too many open files', fix: 'raise the limit (ulimit -n), then rerun', code: EXIT.failure },
  ENFILE: { what: 'too many open files in the system', fix: 'rerun when fewer files are open', code: EXIT.failure },
};

export interface Failure {
  /** One line, no stack trace. */
  line: string;
  code: number;
}

function errnoOf(err: unknown): (NodeJS.ErrnoException & { dest?: string }) | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  return e && typeof e === 'object' && typeof e.code === 'string' && typeof e.syscall === 'string' && FS_ADVICE[e.code] ? e : undefined;
}

/** Names `path` in a filesystem error that lacks it (Node omits it for some calls, e.g. reading a directory). */
export function withPath<E>(err: E, path: string): E {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.path === undefined) e.path = path;
  return err;
}

/** The one error path of the CLI: any thrown value → one line and its exit code. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof UsageError) return { line: oneLine(err.message), code: EXIT.usage };
  const fsErr = errnoOf(err);
  if (fsErr) {
    const advice = FS_ADVICE[fsErr.code!];
    const where = fsErr.path ?? fsErr.dest ?? '(unknown path)';
    return { line: `${where}: ${advice.what} (${fsErr.code} in ${fsErr.syscall}); ${advice.fix}`, code: advice.code };
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const debug = process.env.PIPELINE_DEBUG ? `\n${(err as Error)?.stack ?? ''}` : '';
  return { line: `internal error: ${firstLine(message)} (a bug: please report it; PIPELINE_DEBUG=1 prints the stack trace)${debug}`, code: EXIT.failure };
}

/** A message that quotes file contents (a JSON parser's) may span lines: join them. */
function oneLine(s: string): string {
  return s.trim().replace(/\s*\n\s*/g, ' ');
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

/** Refuses, in one line, a list (`key` in the config `source`) that names one entry twice (compared as JSON). */
export function refuseRepeats(source: string, key: string, list: readonly unknown[]): void {
  const shown = list.map((x) => JSON.stringify(x));
  shown.forEach((x, i) => {
    const j = shown.indexOf(x);
    if (j < i) usage(`${source}: ${key}[${i}] repeats ${key}[${j}] (${x}); list each once`);
  });
}
