import type * as tf from '@tensorflow/tfjs';

/** A uniform a WGSL program declares in its `uniforms` string, in that order. */
export type ProgramUniform = { type: 'float32' | 'int32'; data: number[] };

/** tfjs-webgpu's backend as the project's WGSL kernels use it: one program, its inputs, one output. */
export type WebGpuBackend = tf.KernelBackend & {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: ProgramUniform[]): tf.TensorInfo;
};

const ELEMENTWISE_WORKGROUP = 64;

/** A tfjs-webgpu program with one thread per output element: `fn main(index : i32)`, `uniforms.size` = n. */
export abstract class ElementwiseProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENTWISE_WORKGROUP, 1, 1];
  size = true;
  constructor(n: number) {
    this.outputShape = [n];
    this.dispatch = [Math.ceil(n / ELEMENTWISE_WORKGROUP), 1, 1];
  }
  abstract getUserCode(): string;
}
