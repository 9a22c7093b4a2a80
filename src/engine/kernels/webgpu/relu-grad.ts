import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD } from '../../relu-grad.ts';
import { ElementwiseProgram, type WebGpuBackend } from './program.ts';

/** dy · step(x) in one pass: step is 1 for x > 0, 0 elsewhere, NaN where x is (tfjs's Step). */
class ReluGradProgram extends ElementwiseProgram {
  variableNames = ['dy', 'x'];
  shaderKey = 'pipelineReluGrad';
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
