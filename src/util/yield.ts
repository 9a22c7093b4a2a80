/**
 * Lets timers, signal handlers and the test runner's RPC run: a long synchronous stretch (batches of
 * a fit, rounds of a scoring) otherwise delays SIGINT/SIGTERM until it ends. Call it between steps.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
