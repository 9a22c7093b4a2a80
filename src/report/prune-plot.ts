import path from 'node:path';
import type { PruneReport } from '../prune/config.ts';
import { layerDensityPlot, writeSvg } from './plots.ts';

/** layer-density.svg beside a prune run's report. */
export async function writeLayerDensityPlot(dir: string, report: PruneReport): Promise<void> {
  const svg = await layerDensityPlot([{ criterion: report.criterion, layers: report.layers.map((l) => ({ name: l.name, density: l.density })) }], {
    title: `${report.model}: kept fraction per layer, ${report.criterion} at ${(100 * report.density).toFixed(2)}% density`,
  });
  writeSvg(path.join(dir, 'layer-density.svg'), svg);
}
