/**
 * Run-directory locks (a second writer refused, a dead holder's lock taken over) and the one
 * filesystem error path (every errno → one line naming the path, the documented exit code).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRunDir } from '../../src/io/run-lock.ts';
import { describeFailure, EXIT } from '../../src/util/errors.ts';
import { cliInProcess, STACK_TRACE } from './in-process-cli.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-lock-'));
const trainArgs = (out: string) => ['train', '--config', 'pipelines/train-lenet300-mnist.json', '--epochs', '1', '--steps', '2', '--out', out];

describe('run-directory lock', () => {
  it('a second writer of a directory held by a live process gets one line naming the holder, exit 2, and writes nothing', async () => {
    const out = path.join(tmp(), 'run');
    fs.mkdirSync(out);
    const holder = spawn('sleep', ['60']);
    try {
      const started = '2026-01-01T00:00:00.000Z';
      fs.writeFileSync(path.join(out, LOCK_FILE), `${JSON.stringify({ pid: holder.pid, host: os.hostname(), started })}\n`);
      const before = fs.readdirSync(out).sort();
      const r = await cliInProcess(...trainArgs(out));
      expect(r.status).toBe(EXIT.usage);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`process ${holder.pid} on ${os.hostname()} (since ${started})`);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(fs.readdirSync(out).sort()).toEqual(before);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('the lock is released when the writer finishes', () => {
    const out = tmp();
    const release = lockRunDir(out);
    expect(JSON.parse(fs.readFileSync(path.join(out, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    release();
    expect(fs.existsSync(path.join(out, LOCK_FILE))).toBe(false);
  });

  it("a dead holder's lock on this host is taken over with a note, and the run completes", async () => {
    const out = path.join(tmp(), 'run');
    fs.mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    fs.writeFileSync(path.join(out, LOCK_FILE), `${JSON.stringify({ pid, host: os.hostname(), started: '2026-01-01T00:00:00.000Z' })}\n`);
    const r = await cliInProcess(...trainArgs(out));
    expect(r.status).toBe(EXIT.ok);
    expect(r.stderr).toContain(String(pid));
    expect(fs.existsSync(path.join(out, 'metrics.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(out, LOCK_FILE))).toBe(false);
  });
});

describe('one filesystem error path', () => {
  const cases: Array<[string, number]> = [
    ['EEXIST', EXIT.usage],
    ['EACCES', EXIT.usage],
    ['EPERM', EXIT.usage],
    ['EROFS', EXIT.usage],
    ['ENOTDIR', EXIT.usage],
    ['EISDIR', EXIT.usage],
    ['ELOOP', EXIT.usage],
    ['ENOSPC', EXIT.failure],
  ];
  for (const [code, exit] of cases) {
    it(`${code} → one line naming the path and a fix, exit ${exit}`, () => {
      const err = Object.assign(new Error(`${code}: simulated`), { code, syscall: 'open', path: '/some/where/file.json' });
      const f = describeFailure(err);
      expect(f.code).toBe(exit);
      expect(f.line.split('\n')).toHaveLength(1);
      expect(f.line).toMatch(new RegExp(`^/some/where/file\\.json: .*\\(${code} in open\\); \\S`));
    });
  }

  it('--out naming an existing file (a real ENOTDIR/EEXIST from the filesystem): one line, exit 2, the file untouched', async () => {
    const file = path.join(tmp(), 'not-a-dir');
    fs.writeFileSync(file, 'keep me');
    const r = await cliInProcess(...trainArgs(file));
    expect(r.status).toBe(EXIT.usage);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('--out inside a symbolic-link loop (a real ELOOP): one line naming it, exit 2', async () => {
    const dir = tmp();
    fs.symlinkSync('loop', path.join(dir, 'loop'));
    const out = path.join(dir, 'loop', 'run');
    const r = await cliInProcess(...trainArgs(out));
    expect(r.status, r.stderr).toBe(EXIT.usage);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/: too many symbolic links \(a link loop\) \(ELOOP in \w+\); fix the links or choose another path/);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});
