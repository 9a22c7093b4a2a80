/**
 * Progress for long loops. On an interactive terminal: a live bar with ETA. Elsewhere (logs, pipes):
 * a plain line at most every `intervalMs`, plus a final line. With PIPELINE_QUIET or CI set, only the
 * final line; with `ttyOnly`, nothing at all off a terminal.
 */
import cliProgress from 'cli-progress';

export type ProgressExtra = Record<string, string | number>;

export interface ProgressOptions {
  total: number;
  label: string;
  /** Name of one step, e.g. 'batch'; default 'it'. */
  unit?: string;
  /** Minimum time between plain lines; default 30 s. */
  intervalMs?: number;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Milliseconds clock, injectable for tests; default Date.now. */
  now?: () => number;
  env?: NodeJS.ProcessEnv;
  /** Show the bar on an interactive terminal and print nothing elsewhere (nor with PIPELINE_QUIET/CI). */
  ttyOnly?: boolean;
  /** Steps already done before this run (e.g. finished jobs): counted, but not in the rate behind the ETA. */
  initial?: number;
}

export interface Progress {
  /** `done` steps of `total` finished; `extra` fields (e.g. epoch, loss) are merged and shown. */
  update(done: number, extra?: ProgressExtra): void;
  /** Prints the final line (plain mode) or closes the bar. Safe to call twice. */
  stop(): void;
  /** Runs `print` (which writes whole lines, to any stream) without breaking a live bar. */
  log(print: () => void): void;
}

export function createProgress(options: ProgressOptions): Progress {
  const env = options.env ?? process.env;
  const stream = options.stream ?? process.stderr;
  const quiet = isSet(env.PIPELINE_QUIET) || isSet(env.CI);
  if (stream.isTTY && !quiet) return barProgress(options, stream);
  return options.ttyOnly ? silentProgress() : lineProgress(options, stream, quiet);
}

function silentProgress(): Progress {
  return { update() {}, stop() {}, log: (print) => print() };
}

function barProgress(options: ProgressOptions, stream: NodeJS.WritableStream): Progress {
  const unit = options.unit ?? 'it';
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${options.label} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted} elapsed, ETA {eta_text}{extra}`,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let extra: ProgressExtra = {};
  let stopped = false;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const initial = options.initial ?? 0;
  // From the steps done in this run only: '?' until the first one ends (not cli-progress's 0s).
  const eta = (done: number) => {
    const rate = (done - initial) / Math.max(1, now() - startedAt);
    return done >= options.total ? '0s' : rate > 0 ? formatDuration((options.total - done) / rate) : '?';
  };
  bar.start(options.total, 0, { extra: '', eta_text: '?' });
  return {
    update(done, more) {
      if (stopped) return;
      extra = { ...extra, ...more };
      bar.update(done, { extra: formatExtra(extra), eta_text: eta(done) });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
    log(print) {
      if (stopped) return print();
      stream.write('\r\x1b[K'); // clear the bar's line
      print();
      // The bar redraws itself below on its next tick; save that line as the one to return to at stop.
      stream.write('\x1b7');
    },
  };
}

function lineProgress(options: ProgressOptions, stream: NodeJS.WritableStream, finalOnly: boolean): Progress {
  const { total, label } = options;
  const unit = options.unit ?? 'it';
  const intervalMs = options.intervalMs ?? 30_000;
  const now = options.now ?? Date.now;
  const startedAt = now();
  let lastPrintedAt = startedAt;
  let done = 0;
  let extra: ProgressExtra = {};
  let stopped = false;

  const line = (at: number, final: boolean): string => {
    const elapsedMs = at - startedAt;
    const rate = elapsedMs > 0 ? (done - (options.initial ?? 0)) / (elapsedMs / 1000) : 0;
    const percent = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
    const timing = final ? `in ${formatDuration(elapsedMs)}` : `ETA ${rate > 0 ? formatDuration(((total - done) / rate) * 1000) : '?'}`;
    return `${label}: ${done}/${total} ${unit} (${percent}%), ${formatNumber(rate)} ${unit}/s, ${timing}${formatExtra(extra)}\n`;
  };

  return {
    update(value, more) {
      if (stopped) return;
      done = value;
      extra = { ...extra, ...more };
      const at = now();
      if (!finalOnly && at - lastPrintedAt >= intervalMs) {
        lastPrintedAt = at;
        stream.write(line(at, false));
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stream.write(line(now(), true));
    },
    log: (print) => print(),
  };
}

function formatExtra(extra: ProgressExtra): string {
  const fields = Object.entries(extra).map(([key, value]) => `${key}=${typeof value === 'number' ? formatNumber(value) : value}`);
  return fields.length > 0 ? ` | ${fields.join(' ')}` : '';
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** CI=false or CI=0 (seen in some setups) means unset. */
function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
