import * as tf from '@tensorflow/tfjs';
import { RUNNING_AVERAGE, type RunningAverageAttrs } from '../../running-average.ts';
import { ElementwiseProgram, type ProgramUniform, type WebGpuBackend } from './program.ts';

/** r·(1 − m) + s·m in one pass, each product and the sum rounded as the composition rounds them. */
class RunningAverageProgram extends ElementwiseProgram {
  variableNames = ['r', 's'];
  shaderKey = 'pipelineRunningAverage';
  uniforms = 'keep : f32, momentum : f32,';
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let old = r[index] * uniforms.keep;
          let fresh = s[index] * uniforms.momentum;
          setOutputAtIndex(index, old + fresh);
        }
      }`;
  }
}

/** The BN running-statistics update for webgpu: one dispatch instead of three. */
export function registerWebGpuRunningAverage(backendName: string): void {
  if (tf.getKernel(RUNNING_AVERAGE, backendName) !== undefined) tf.unregisterKernel(RUNNING_AVERAGE, backendName);
  tf.registerKernel({
    kernelName: RUNNING_AVERAGE,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { r, s } = inputs as { r: tf.TensorInfo; s: tf.TensorInfo };
      const { momentum } = attrs as unknown as RunningAverageAttrs;
      const n = tf.util.sizeFromShape(r.shape);
      const uniforms: ProgramUniform[] = [
        { type: 'float32', data: [1 - momentum] },
        { type: 'float32', data: [momentum] },
      ];
      const out = (backend as WebGpuBackend).runWebGPUProgram(
        new RunningAverageProgram(n),
        [
          { ...r, shape: [n] },
          { ...s, shape: [n] },
        ],
        'float32',
        uniforms,
      );
      return { ...out, shape: r.shape };
    },
  });
}
