#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so no build step sits between `npm ci` and use.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
// Backstop: the engine releases its threads and GPU device, but nothing that was left running by
// mistake may keep a finished command alive (the timer itself does not hold the process).
setTimeout(() => process.exit(), 3000).unref();
