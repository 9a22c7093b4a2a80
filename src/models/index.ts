export * from './types.ts';
export { createModel, parameterCount, DEFAULT_WIDTH, isModelName } from './zoo.ts';
export { initParams, initValues } from './init.ts';
