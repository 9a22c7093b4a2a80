import type { z } from 'zod';

/**
 * How a message names a config key: as the key (a JSON file, a library call) or as the command-line
 * flag that sets it (the CLI passes its table).
 */
export type KeyNames = (key: string) => string;

export const asKeys: KeyNames = (key) => `'${key}'`;

/** A rule's message names keys as {key}; this writes them in `names`' terms. */
export function renderKeys(message: string, names: KeyNames = asKeys): string {
  return message.replace(/\{([A-Za-z][\w.]*)\}/g, (_, key: string) => names(key));
}

/** The first issue of a failed zod check as one line, prefixed with `source` (the file or caller) unless it is empty. */
export function describeZodError(err: z.ZodError, source: string, names: KeyNames = asKeys): string {
  const issue = err.issues[0];
  const prefix = source ? `${source}: ` : '';
  if (issue.code === 'custom') return prefix + renderKeys(issue.message, names);
  const where = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${prefix}unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')} at ${where}; remove or rename them`;
  }
  return `${prefix}invalid value at ${issue.path.length ? names(where) : where}: ${issue.message}`;
}
