import { Command, CommanderError } from 'commander';
import { describeFailure } from '../util/errors.ts';
import { commands } from './commands/index.ts';
import { flushNotes, shutdownEngine } from './options.ts';

export function buildProgram(): Command {
  const program = new Command('pipeline')
    .description('Learned pruning at initialization: IRP survival tables, AutoS, handcrafted criteria, EarlyCroP')
    .option('--backend <name>', 'compute backend: auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu (env PIPELINE_BACKEND)')
    .option('--threads <n>', 'CPU threads for the wasm backend (env PIPELINE_THREADS; default: all cores, ÷ workers for commands that run workers)')
    .showHelpAfterError(false)
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI; returns the process exit code (0 ok, 1 failure that is not the input's, 2 bad input). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    flushNotes();
    // A command that finished but failed in part (e.g. some sweep jobs) sets process.exitCode.
    return Number(process.exitCode ?? 0) || 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
      return 2; // commander already printed its one-line message
    }
    // One error path: usage errors, filesystem errors and bugs all end as one line (see describeFailure).
    const failure = describeFailure(err);
    process.stderr.write(`pipeline: ${failure.line}\n`);
    return failure.code;
  } finally {
    shutdownEngine();
  }
}
