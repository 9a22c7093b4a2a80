/**
 * An error caused by the user's input (flag, config, file). The CLI prints its message as one line
 * and exits with code 2; anything else is a bug and exits 1 with a stack trace.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function usage(message: string): never {
  throw new UsageError(message);
}
