import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from '../../relu-grad.ts';
import type { WebGpuBackend } from './program.ts';

const WORKGROUP = 64;

/** dy · step(x) in one pass: step is 1 for x > 0, 0 elsewhere, NaN where x is (tfjs's Step). */
class ReluGradProgram {
  variableNames = ['dy', 'x'];
  outputShape: number[];
  shaderKey = 'pipelineReluGrad';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  size = true;
  constructor(n: number) {
    this.outputShape = [n];
    this.dispatch = [Math.ceil(n / WORKGROUP), 1, 1];
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = x[index];
          var s = 0.0;
          if (v > 0.0) { s = 1.0; }
          if (v != v) { s = v; }
          setOutputAtIndex(index, dy[index] * s);
        }
      }`;
  }
}

/** The fused ReLU gradient for webgpu: one dispatch instead of tfjs's Step and Multiply. */
export function registerWebGpuReluGrad(backendName: string): void {
  if (tf.getKernel(RELU_GRAD, backendName) !== undefined) tf.unregisterKernel(RELU_GRAD, backendName);
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      const n = tf.util.sizeFromShape(dy.shape);
      const out = (backend as WebGpuBackend).runWebGPUProgram(
        new ReluGradProgram(n),
        [
          { ...dy, shape: [n] },
          { ...x, shape: [n] },
        ],
        'float32',
      );
      return { ...out, shape: dy.shape };
    },
  });
}
