import { layerInfoOfModel, loadAllocation, predictDensities } from '../scoring/autos/allocation-model.ts';
import { keptCounts } from '../masks/masks.ts';
import type { ParamMap } from '../models/index.ts';
import { countsFromShares, erkCounts } from '../scoring/allocation.ts';
import type { PruneConfig } from './config.ts';
import { defaultAllocationOf, getCriterion } from '../scoring/criteria/index.ts';
import type { Prepared } from './prepare.ts';
import { prune, type PruneRequest } from '../scoring/prune.ts';

/** The layer-allocation hook for prune() (asked once, for the target density), or undefined for plain global/layer scope. */
export function layerAllocator(config: PruneConfig, prepared: Prepared, theta0: ParamMap): PruneRequest['allocate'] {
  const { model } = prepared;
  const allocation = config.allocation ?? defaultAllocationOf(config.criterion);
  const floor = Boolean(config.signalFloor) || allocation === 'learned';
  if (allocation === 'global') return undefined;
  if (allocation === 'layer') return floor ? (_scores, density) => countsFromShares(model, density, (i) => model.prunable[i].size, { floor }) : undefined;
  if (allocation === 'erk') return (_scores, density) => erkCounts(model, density, { floor });
  if (allocation === 'learned') {
    const fit = loadAllocation(config.autos!);
    const layers = layerInfoOfModel(model);
    return (_scores, density) => {
      const d = predictDensities(fit, layers, density);
      return countsFromShares(model, density, (i) => model.prunable[i].size * d[i], { floor });
    };
  }
  if (allocation === 'survival') {
    return (scores, density) =>
      countsFromShares(
        model,
        density,
        (i) => {
          const s = scores.get(model.prunable[i].name)!;
          let sum = 0;
          for (let j = 0; j < s.length; j++) sum += Math.max(0, s[j]);
          return sum; // size × mean predicted survival
        },
        { floor },
      );
  }
  const other = getCriterion(allocation);
  return async (_scores, density) => {
    const { masks } = await prune({
      criterion: other,
      model,
      params: theta0,
      data: prepared.data,
      density,
      scope: 'global',
      bnMode: config.bnMode ?? other.defaultBnMode,
      seed: config.seed,
      temperature: config.temperature,
    });
    const counts = keptCounts(masks);
    return floor ? countsFromShares(model, density, (i) => counts.get(model.prunable[i].name)!, { floor }) : counts;
  };
}
