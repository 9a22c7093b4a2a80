import fs from 'node:fs';
import { duplicateKey } from './json-keys.ts';
import { usage } from './errors.ts';

/**
 * Parses the JSON `text` of `file`: text that is not JSON, or an object with a key given twice (JSON.parse
 * would keep the last one silently), is refused in one line ending with `fix`.
 */
export function parseJsonText(text: string, file: string, fix: string): unknown {
  const depth = nesting(text);
  if (depth > MAX_NESTING) usage(`${file} nests ${depth} levels deep, more than the ${MAX_NESTING} any file of this tool needs; ${fix}`);
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

/** A JSON file read and parsed as parseJsonText does (filesystem errors go to the caller's error path). */
export function readJsonFile(file: string, fix: string): unknown {
  return parseJsonText(fs.readFileSync(file, 'utf8'), file, fix);
}

/** Deeper than any config, table metadata or report of this tool; deeper JSON would overflow the recursive checks after parsing. */
const MAX_NESTING = 64;

/** The deepest nesting of objects and arrays in JSON `text` (brackets inside strings not counted). */
function nesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') deepest = Math.max(deepest, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return deepest;
}
