import { writeSurvivalTable } from '../../src/irp/table.ts';
import type { Model, PrunableTensor } from '../../src/models/types.ts';
import { Rng } from '../../src/util/rng.ts';

/** A prunable tensor from its shape: [kh, kw, cin, cout] is a conv, [in, out] a dense layer. */
export function tensor(name: string, shape: number[], index: number, count: number): PrunableTensor {
  const conv = shape.length === 4;
  const k = conv ? shape[0] * shape[1] : 1;
  return {
    name,
    shape,
    kind: conv ? 'conv' : 'dense',
    size: shape.reduce((a, b) => a * b, 1),
    fanIn: conv ? k * shape[2] : shape[0],
    fanOut: conv ? k * shape[3] : shape[1],
    kernelSize: k,
    index,
    depth: count > 1 ? index / (count - 1) : 0,
  };
}

/** A stand-in Model: only `prunable` (and the config fields the tables record) are used. */
export function fakeModel(name: string, width: number, shapes: number[][]): Model {
  const prunable = shapes.map((s, i) => tensor(`${name}.l${i}`, s, i, shapes.length));
  return { prunable, config: { name, width } } as unknown as Model;
}

/**
 * A survival table whose per-layer kept counts after round r are `kept(r)[l]` (non-increasing in r): the
 * weights with the largest |θ| survive longest, so rounds_survived = #{r : rank(|θ|) < kept(r)[l]}.
 */
export function writeFixtureTable(
  file: string,
  model: Model,
  rounds: number,
  kept: (r: number) => number[],
  seed = 0,
  extra: Record<string, unknown> = {},
): void {
  const rng = new Rng(seed);
  const theta = new Map<string, Float32Array>();
  const grad = new Map<string, Float32Array>();
  const hg = new Map<string, Float32Array>();
  const survived = new Map<string, Uint8Array>();
  const counts = Array.from({ length: rounds }, (_, r) => kept(r));
  model.prunable.forEach((p, l) => {
    const t = Float32Array.from({ length: p.size }, () => 2 * rng.next() - 1);
    theta.set(p.name, t);
    grad.set(
      p.name,
      Float32Array.from({ length: p.size }, () => 2 * rng.next() - 1),
    );
    hg.set(
      p.name,
      Float32Array.from({ length: p.size }, () => 2 * rng.next() - 1),
    );
    const order = Array.from({ length: p.size }, (_, i) => i).sort((a, b) => Math.abs(t[b]) - Math.abs(t[a]));
    const c = new Uint8Array(p.size);
    order.forEach((i, rank) => {
      let n = 0;
      for (let r = 0; r < rounds; r++) if (rank < counts[r][l]) n++;
      c[i] = n;
    });
    survived.set(p.name, c);
  });
  const total = model.prunable.reduce((s, p) => s + p.size, 0);
  const densities = counts.map((c) => c.reduce((a, b) => a + b, 0) / total);
  writeSurvivalTable(file, model, { theta, grad, hg }, survived, new Map([...theta].map(([n, t]) => [n, t.map(Math.abs)])), rounds, {
    format: 'pipeline-survival-v1',
    model: model.config.name,
    width: model.config.width,
    dataset: 'mnist',
    criterion: 'magnitude',
    schedule: 'equal-count',
    densities,
    seed,
    feature_bn_mode: 'eval',
    temperature: 200,
    samples_per_class: 10,
    rewind: 'init',
    ...extra,
  });
}
