import type * as tf from '@tensorflow/tfjs';

/** A uniform a WGSL program declares in its `uniforms` string, in that order. */
export type ProgramUniform = { type: 'float32' | 'int32'; data: number[] };

/** tfjs-webgpu's backend as the project's WGSL kernels use it: one program, its inputs, one output. */
export type WebGpuBackend = tf.KernelBackend & {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: ProgramUniform[]): tf.TensorInfo;
};
