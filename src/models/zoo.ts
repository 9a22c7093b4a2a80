import { usage } from '../util/errors.ts';
import { lenet300, lenet5 } from './lenet.ts';
import { resnet18, resnetCifar } from './resnet.ts';
import { MODEL_NAMES, type Model, type ModelConfig, type ModelName } from './types.ts';
import { vgg } from './vgg.ts';

const FACTORIES: Record<ModelName, (c: ModelConfig) => Model> = {
  lenet300,
  lenet5,
  resnet18,
  resnet20: resnetCifar(3),
  resnet32: resnetCifar(5),
  vgg11: vgg,
  vgg16: vgg,
  vgg19: vgg,
};

/** Default width: channels of the first stage for resnet/vgg, a multiplier for the LeNets. */
export const DEFAULT_WIDTH: Record<ModelName, number> = {
  lenet300: 1,
  lenet5: 1,
  resnet18: 64,
  resnet20: 16,
  resnet32: 16,
  vgg11: 64,
  vgg16: 64,
  vgg19: 64,
};

export interface ModelOptions {
  width?: number;
  inputShape?: [number, number, number];
  numClasses?: number;
  batchNorm?: boolean;
  /** Channels per channel group (a structurally pruned model); absent groups follow the width. */
  channels?: Record<string, number>;
}

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

export function createModel(name: string, options: ModelOptions = {}): Model {
  if (!isModelName(name)) usage(`unknown model '${name}': choose one of ${MODEL_NAMES.join(', ')}`);
  const width = options.width ?? DEFAULT_WIDTH[name];
  const isLenet = name.startsWith('lenet');
  if (!(Number.isFinite(width) && width > 0) || (!isLenet && !Number.isInteger(width))) {
    usage(`invalid width ${width} for ${name}: use ${isLenet ? 'a positive multiplier' : 'a positive integer channel count'} (default ${DEFAULT_WIDTH[name]})`);
  }
  const inputShape = options.inputShape ?? (isLenet ? [28, 28, 1] : [32, 32, 3]);
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    usage(`invalid input shape ${JSON.stringify(inputShape)}: use three positive integers H,W,C`);
  }
  const numClasses = options.numClasses ?? 10;
  if (!Number.isInteger(numClasses) || numClasses < 2) usage(`invalid class count ${numClasses}: use an integer ≥ 2`);
  const config: ModelConfig = { name, width, inputShape, numClasses, batchNorm: options.batchNorm ?? !isLenet };
  if (options.channels && Object.keys(options.channels).length) config.channels = { ...options.channels };
  try {
    return FACTORIES[name](config);
  } catch (err) {
    if (err instanceof RangeError) usage(`${err.message}: choose a larger --input-shape`);
    throw err;
  }
}

export function parameterCount(model: Model, includeBuffers = false): number {
  return model.specs.filter((s) => includeBuffers || (s.kind !== 'bn-mean' && s.kind !== 'bn-var')).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
