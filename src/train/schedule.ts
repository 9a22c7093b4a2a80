import type { TrainConfig } from './config.ts';

/** Learning rate for optimizer step `step` (0-based) of `total`, with `perEpoch` steps per epoch. */
export function learningRate(config: Pick<TrainConfig, 'optimizer' | 'schedule'>, step: number, total: number, perEpoch: number): number {
  const base = config.optimizer.lr;
  const s = config.schedule;
  const progress = total > 0 ? step / total : 0;
  switch (s.type) {
    case 'constant':
      return base;
    case 'multistep': {
      const epoch = step / perEpoch;
      const totalEpochs = total / perEpoch;
      const passed = s.milestones.filter((m) => epoch >= (m < 1 ? m * totalEpochs : m)).length;
      return base * s.gamma ** passed;
    }
    case 'cosine':
      return 0.5 * base * (1 + Math.cos(Math.PI * progress));
    case 'onecycle': {
      // Linear warm-up from lr/25 to lr, then cosine annealing to lr/1e4 (PyTorch's OneCycleLR shape).
      const start = base / 25;
      const end = base / 1e4;
      if (progress < s.warmup) return start + (base - start) * (progress / s.warmup);
      const t = (progress - s.warmup) / Math.max(1e-12, 1 - s.warmup);
      return end + 0.5 * (base - end) * (1 + Math.cos(Math.PI * t));
    }
  }
}
