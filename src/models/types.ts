import type * as tf from '@tensorflow/tfjs';
import type { BatchStats } from '../engine/ops.ts';

export type TensorKind = 'conv' | 'dense' | 'bias' | 'bn-gamma' | 'bn-beta' | 'bn-mean' | 'bn-var';

/** How a tensor is initialized (reference initializations, see ALGORITHMS.md). */
export type Init =
  | { type: 'kaiming-normal-fan-out' } // conv: N(0, 2/(k·k·Cout)), GraSP/torchvision
  | { type: 'uniform-fan-in'; fanIn: number } // dense weight and bias: U(±1/√fanIn), PyTorch's nn.Linear
  | { type: 'const'; value: number };

export interface TensorSpec {
  name: string;
  shape: number[];
  kind: TensorKind;
  init: Init;
  /** Layer this tensor belongs to (a prunable tensor's own name, or the BN/bias owner). */
  layer: string;
}

/** A conv/dense weight that criteria score and masks prune. */
export interface PrunableTensor {
  name: string;
  shape: number[];
  kind: 'conv' | 'dense';
  size: number;
  fanIn: number;
  fanOut: number;
  kernelSize: number;
  /** Position in forward order, 0 … count−1. */
  index: number;
  /** index / (count − 1): 0 for the first layer, 1 for the classifier. */
  depth: number;
}

export type ParamMap = Record<string, tf.Tensor>;

export interface ForwardResult {
  logits: tf.Tensor2D;
  /** Batch statistics of each BN layer (train mode only), keyed by BN layer name. */
  bnStats: Map<string, BatchStats>;
}

export interface ModelConfig {
  name: ModelName;
  /** resnet/vgg: channels of the first stage; lenet: hidden-width multiplier. */
  width: number;
  inputShape: [number, number, number];
  numClasses: number;
  batchNorm: boolean;
}

export const MODEL_NAMES = ['lenet300', 'lenet5', 'resnet18', 'resnet20', 'resnet32', 'vgg11', 'vgg16', 'vgg19'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface Model {
  config: ModelConfig;
  /** Every tensor (trainable parameters and BN buffers) in forward order. */
  specs: TensorSpec[];
  prunable: PrunableTensor[];
  /** Names of BN running statistics (not trained by the optimizer). */
  buffers: string[];
  forward(params: ParamMap, x: tf.Tensor4D, training: boolean): ForwardResult;
}
