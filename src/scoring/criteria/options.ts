import { usage } from '../../util/errors.ts';
import type { Criterion } from './types.ts';

/**
 * The criterion's hyperparameters: its defaults with `given` on top. Unknown names and values out of
 * range are refused in one line that names the criterion's options.
 */
export function resolveOptions(criterion: Pick<Criterion, 'name' | 'options'>, given: Record<string, number> = {}): Record<string, number> {
  const declared = criterion.options ?? {};
  const names = Object.keys(declared);
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, declared[n].default]));
  for (const [name, value] of Object.entries(given)) {
    const o = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (!o) {
      usage(
        names.length === 0
          ? `criterion '${criterion.name}' has no options, but '${name}' was given: remove it`
          : `criterion '${criterion.name}' has no option '${name}': its options are ${names.join(', ')}`,
      );
    }
    const min = o.min ?? 0;
    const ok = Number.isFinite(value) && (o.min === undefined ? value > 0 : value >= min) && (!o.integer || Number.isInteger(value));
    if (!ok)
      usage(
        `${criterion.name} option ${name} = ${value} is invalid: give ${o.integer ? 'a whole number' : 'a number'} ${o.min === undefined ? '> 0' : `≥ ${min}`}`,
      );
    out[name] = value;
  }
  return out;
}
