import type { Command } from 'commander';
import { registerBench } from './bench.ts';
import { registerCompareSurvival } from './compare-survival.ts';
import { registerData } from './data.ts';
import { registerFitAutos } from './fit-autos.ts';
import { registerIrp } from './irp.ts';
import { registerPrune } from './prune.ts';
import { registerRun } from './run.ts';
import { registerStatus } from './status.ts';
import { registerSweep } from './sweep.ts';
import { registerTrain } from './train.ts';

/** Each command module exports a function that adds its subcommand(s) to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerBench,
  registerData,
  registerTrain,
  registerPrune,
  registerIrp,
  registerCompareSurvival,
  registerFitAutos,
  registerRun,
  registerSweep,
  registerStatus,
];
