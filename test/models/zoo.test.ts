import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { createModel, initParams, parameterCount } from '../../src/models/index.ts';
import { sgd, trainStep } from '../../src/train/train-step.ts';
import { UsageError } from '../../src/util/errors.ts';

// Published counts (trainable parameters incl. BN γ/β and biases, 10 classes), independently
// derived: ResNet-18 (CIFAR) 11,173,962; LeNet-300-100 = 784·300+300 + 300·100+100 + 100·10+10;
// VGG-16 (CIFAR, BN, bias-free convs, one 512→10 classifier) = 14,710,464 conv + 8,448 BN + 5,130 fc;
// ResNet-20 (1×1 projection shortcuts) 272,474; LeNet-5 (6/16 filters, 120/84) 61,706.
const published: Array<[string, number, number]> = [
  ['resnet18', 64, 11_173_962],
  ['lenet300', 1, 266_610],
  ['vgg16', 64, 14_724_042],
  ['resnet20', 16, 272_474],
  ['lenet5', 1, 61_706],
];

describe('model zoo', () => {
  for (const [name, width, count] of published) {
    it(`${name} width ${width} has ${count} parameters`, () => {
      expect(parameterCount(createModel(name, { width }))).toBe(count);
    });
  }

  it('lenet5 with batch norm: bias-free convs, BN (4 × 6 + 4 × 16 entries) before each ReLU', () => {
    const m = createModel('lenet5', { batchNorm: true });
    // 61,706 − 6 − 16 conv biases + (6 + 16) × 2 trainable BN parameters; running stats are buffers.
    expect(parameterCount(m)).toBe(61_706 - 22 + 44);
    expect(m.specs.map((s) => s.name)).toEqual(expect.arrayContaining(['bn1.gamma', 'bn2.running_var']));
    expect(m.specs.some((s) => s.name === 'conv1.bias')).toBe(false);
    expect(m.buffers.length).toBe(4);
  });

  it('prunable tensors are the conv/dense weights in forward order with stable names', () => {
    const m = createModel('resnet18', { width: 64 });
    expect(m.prunable.length).toBe(21); // stem + 16 block convs + 3 shortcuts + fc
    expect(m.prunable[0].name).toBe('stem.conv');
    expect(m.prunable.at(-1)!.name).toBe('fc');
    expect(m.prunable.map((p) => p.name)).toContain('stage2.block0.shortcut');
    // scripts/gpu/torch_reference.py reports 699,056 prunable weights for width 16.
    expect(createModel('resnet18', { width: 16 }).prunable.reduce((n, p) => n + p.size, 0)).toBe(699_056);
    expect(m.prunable.every((p) => p.kind === 'conv' || p.kind === 'dense')).toBe(true);
    expect(m.prunable[0].depth).toBe(0);
    expect(m.prunable.at(-1)!.depth).toBe(1);
  });

  it('every model runs forward in train and eval mode with the right output shape', async () => {
    await initBackend('cpu');
    for (const [name, width, batchNorm] of [
      ['lenet300', 0.5],
      ['lenet5', 1],
      ['lenet5', 1, true],
      ['resnet18', 4],
      ['resnet20', 4],
      ['resnet32', 2],
      ['vgg11', 8],
      ['vgg16', 8],
      ['vgg19', 8],
    ] as const) {
      const m = createModel(name, { width, numClasses: 7, batchNorm });
      const p = initParams(m, 1);
      const x = tf.randomNormal([3, ...m.config.inputShape]) as tf.Tensor4D;
      for (const training of [true, false]) {
        const out = m.forward(p, x, training);
        expect(out.logits.shape).toEqual([3, 7]);
        expect(Number.isFinite(out.logits.sum().dataSync()[0])).toBe(true);
        expect(out.bnStats.size).toBe(training && m.config.batchNorm ? m.buffers.length / 2 : 0);
      }
      tf.dispose([x, ...Object.values(p)]);
    }
  });

  it('initialization follows the reference scales and is seed-deterministic', () => {
    const m = createModel('vgg11', { width: 64 });
    const a = initParams(m, 3);
    const b = initParams(m, 3);
    const c = initParams(m, 4);
    const w = Array.from(a['features.conv4'].dataSync()); // 3×3×256×512
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (9 * 512)), 3); // kaiming normal, fan_out
    const fc = Array.from(a['fc'].dataSync());
    expect(Math.max(...fc.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(512));
    expect(Array.from(a['fc'].dataSync())).toEqual(Array.from(b['fc'].dataSync()));
    expect(Array.from(a['fc'].dataSync())).not.toEqual(Array.from(c['fc'].dataSync()));
    expect(Array.from(a['features.bn0.gamma'].dataSync()).every((v) => v === 1)).toBe(true);
  });

  it('bad names, widths and shapes are usage errors', () => {
    expect(() => createModel('resnet50')).toThrow(UsageError);
    expect(() => createModel('resnet18', { width: 0 })).toThrow(/invalid width/);
    expect(() => createModel('resnet18', { width: 2.5 })).toThrow(UsageError);
    expect(() => createModel('vgg16', { inputShape: [8, 8, 3] })).toThrow(/larger --input-shape/);
    expect(() => createModel('lenet5', { numClasses: 1 })).toThrow(UsageError);
  });
});

describe('wasm training', () => {
  for (const [name, width] of [
    ['resnet18', 4],
    ['vgg11', 8],
  ] as const) {
    it(`a wasm SGD step of ${name} (width ${width}) lowers the loss on a fixed batch`, async () => {
      await initBackend('wasm');
      const m = createModel(name, { width });
      const p = initParams(m, 0);
      const x = tf.randomNormal([16, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const y = tf.tensor1d(
        Array.from({ length: 16 }, (_, i) => i % 10),
        'int32',
      );
      const { optimizer, lr } = sgd(0.05, 0.9);
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) losses.push((await trainStep(m, p, optimizer, x, y, lr)).loss);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[4]).toBeLessThan(losses[0] - 0.1);
      optimizer.dispose();
      tf.dispose([x, y, ...Object.values(p)]);
    });
  }
});
