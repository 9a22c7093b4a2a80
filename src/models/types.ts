import type * as tf from '@tensorflow/tfjs';
import type { BatchStats } from '../engine/ops.ts';

export type TensorKind = 'conv' | 'dense' | 'bias' | 'bn-gamma' | 'bn-beta' | 'bn-mean' | 'bn-var';

/** How a tensor is initialized (reference initializations: docs/guide.md, "Models"). */
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
  /** Channel groups carried by this tensor's axes (structured pruning slices along them). */
  channels?: ChannelAxes;
}

/**
 * Which channel group a tensor's output axis (last: conv Cout, dense out, bias, BN) and input axis
 * (conv Cin, dense in) belong to. A dense layer after a flatten of [H, W, C] sees each channel at
 * `inRepeat` = H·W positions: input index s·C + c.
 */
export interface ChannelAxes {
  out?: string;
  in?: string;
  inRepeat?: number;
}

/**
 * A set of channels that structured pruning keeps or removes together: the outputs of every member
 * layer (layers joined by a residual addition share one group), and the inputs of the layers they feed.
 */
export interface ChannelGroup {
  name: string;
  size: number;
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
  /** Channel count per channel group, overriding the width-derived plan (a structurally pruned model). */
  channels?: Record<string, number>;
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
  /** Channel groups, in forward order; empty for models without channel structure (lenet300). */
  channelGroups: ChannelGroup[];
  forward(params: ParamMap, x: tf.Tensor4D, training: boolean, opts?: ForwardOptions): ForwardResult;
}

export interface ForwardOptions {
  /**
   * Per channel group, a factor on each member's output after its last affine op (bias or BN), so a
   * zero gate makes the channel exactly zero downstream — as if it were removed.
   */
  gates?: Record<string, tf.Tensor1D>;
  /** Adds multiply-add FLOPs (2 per MAC) of conv and dense layers, per example. */
  flops?: { total: number };
}
