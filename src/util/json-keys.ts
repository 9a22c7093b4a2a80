/**
 * The first key that appears twice in one JSON object of `text`, with its line, or undefined. JSON.parse
 * keeps the last of the two silently, so a preset edited by hand could run another config than it
 * reads as. `text` must already parse as JSON.
 */
export function duplicateKey(text: string): { key: string; line: number } | undefined {
  const stack: Array<Set<string> | null> = []; // a Set per open object, null per open array
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; text[j] !== '"'; j++) {
        if (text[j] === '\\') {
          s += text.slice(j, j + 2);
          j++;
        } else s += text[j];
      }
      i = j;
      const keys = stack.at(-1);
      if (!keys) continue;
      let k = i + 1;
      while (/\s/.test(text[k] ?? '')) k++;
      if (text[k] !== ':') continue; // a value, not a key
      const key = JSON.parse(`"${s}"`) as string;
      if (keys.has(key)) return { key, line };
      keys.add(key);
    }
  }
  return undefined;
}
