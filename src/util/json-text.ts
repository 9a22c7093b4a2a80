import { duplicateKey } from './json-keys.ts';
import { usage } from './errors.ts';

/**
 * Parses the JSON `text` of `file`: text that is not JSON, or an object with a key given twice (JSON.parse
 * would keep the last one silently), is refused in one line ending with `fix`.
 */
export function parseJsonText(text: string, file: string, fix: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    usage(`${file} is not valid JSON (${(err as Error).message}); ${fix}`);
  }
  const twice = duplicateKey(text);
  if (twice) usage(`${file}: key "${twice.key}" appears twice in one object (line ${twice.line}); JSON keeps only the last: ${fix}`);
  return value;
}
