import type { Command } from 'commander';
import { buildProgram } from './main.ts';

/** Help is wrapped at this width in the reference, whatever the terminal. */
const WIDTH = 100;

function* commandsOf(cmd: Command, prefix: string[] = []): Generator<{ path: string[]; cmd: Command }> {
  for (const sub of cmd.commands) {
    const path = [...prefix, sub.name()];
    yield { path, cmd: sub };
    yield* commandsOf(sub, path);
  }
}

/** docs/cli.md: every command's --help, as `pipeline <command> --help` prints it at 100 columns. */
export function cliReference(): string {
  const program = buildProgram();
  program.configureHelp({ helpWidth: WIDTH });
  const parts = [
    '# Command-line reference',
    '',
    "Generated from the commands' own `--help` (`npm run docs:cli`; a test keeps it in sync).",
    '',
    '## pipeline',
    '',
    '```text',
    program.helpInformation().trimEnd(),
    '```',
  ];
  for (const { path, cmd } of commandsOf(program)) {
    cmd.configureHelp({ helpWidth: WIDTH });
    parts.push('', `## pipeline ${path.join(' ')}`, '', '```text', cmd.helpInformation().trimEnd(), '```');
  }
  return `${parts.join('\n')}\n`;
}
