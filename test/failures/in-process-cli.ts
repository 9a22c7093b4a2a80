import { main } from '../../src/cli/main.ts';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process (no start-up cost), capturing what it writes. */
export async function cliInProcess(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
  const quiet = process.env.PIPELINE_QUIET;
  process.env.PIPELINE_QUIET = '1';
  try {
    const status = await main(['node', 'pipeline', '--backend', 'cpu', ...args]);
    return { status, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.env.PIPELINE_QUIET = quiet;
    process.exitCode = undefined;
  }
}

/** What a stack trace looks like in Node's output. */
export const STACK_TRACE = /^\s+at .+(\(|:\d+:\d+)|\n\s+at /m;
