import fs from 'node:fs';

/** State letter and parent pid of a process from /proc (undefined when it is gone). */
function stat(pid: number | string): { state: string; ppid: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live (not zombie) process. */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z';
}

/** Live children of `pid`, optionally only those whose command line contains `cmdline`. */
export function childrenOf(pid: number, cmdline?: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (!s || s.ppid !== pid || s.state === 'Z') continue;
    try {
      if (cmdline === undefined || fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(cmdline)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
