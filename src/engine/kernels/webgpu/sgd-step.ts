import * as tf from '@tensorflow/tfjs';
import { registerSgdStepKernel } from '../../sgd-step.ts';
import { ElementwiseProgram, type ProgramUniform, type WebGpuBackend } from './program.ts';

/**
 * One of the step's two passes (a tfjs-webgpu program has one output): 'momentum' writes
 * b = (μ·b_prev + d)·mask (b = d·mask on the first step), 'theta' writes θ' = (θ − lr·u)·mask with
 * u = d + μ·b (Nesterov) or b, reading the b just written; d = g + wd·θ. Every operation in the order
 * of sgd-step.ts's composition.
 */
class SgdStepProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = 'lr : f32, mu : f32, wd : f32,';

  constructor(
    n: number,
    private pass: 'momentum' | 'theta',
    private flags: { decay: boolean; prev: boolean; mask: boolean; nesterov: boolean; momentum: boolean },
  ) {
    super(n);
    // Every input must be read: the pipeline's layout is derived from the shader and drops unused bindings.
    const thetaRead = pass === 'theta' || flags.decay;
    this.variableNames = [
      ...(thetaRead ? ['theta'] : []),
      'g',
      ...(pass === 'momentum' ? (flags.prev ? ['prev'] : []) : flags.momentum ? ['b'] : []),
      ...(flags.mask ? ['mask'] : []),
    ];
    this.shaderKey = `pipelineSgdStep_${pass}_${Object.entries(flags)
      .filter(([, on]) => on)
      .map(([k]) => k)
      .join('_')}`;
  }

  getUserCode(): string {
    const { decay, prev, mask, nesterov, momentum } = this.flags;
    const d = decay ? 'let d = g[index] + theta[index] * uniforms.wd;' : 'let d = g[index];';
    const masked = (v: string) => (mask ? `${v} * mask[index]` : v);
    const body =
      this.pass === 'momentum'
        ? `${d}\n          let b = ${prev ? 'prev[index] * uniforms.mu + d' : 'd'};\n          setOutputAtIndex(index, ${masked('b')});`
        : `${d}\n          let u = ${momentum ? (nesterov ? 'd + b[index] * uniforms.mu' : 'b[index]') : 'd'};\n          let stepped = theta[index] - u * uniforms.lr;\n          setOutputAtIndex(index, ${masked('stepped')});`;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`;
  }
}

/**
 * The fused SGD step on the GPU: two dispatches per parameter tensor (one without momentum) instead of
 * the 5–8 launches of the composed step. Where the mask is 0 both outputs are exactly 0; where it is 1
 * b·1 = b, so the θ pass may read the masked b.
 */
export function registerWebGpuSgdStep(backendName: string): void {
  registerSgdStepKernel(backendName, ({ theta, g, prev, mask }, { lr, momentum, weightDecay, nesterov }, backend) => {
    const be = backend as WebGpuBackend;
    const n = tf.util.sizeFromShape(theta.shape);
    const flags = {
      decay: weightDecay > 0,
      prev: prev !== undefined && momentum !== 0,
      mask: mask !== undefined,
      nesterov: nesterov && momentum !== 0,
      momentum: momentum !== 0,
    };
    const uniforms: ProgramUniform[] = [
      { type: 'float32', data: [lr] },
      { type: 'float32', data: [momentum] },
      { type: 'float32', data: [weightDecay] },
    ];
    const flat = (t: tf.TensorInfo) => ({ ...t, shape: [n] });
    const present = (ts: Array<tf.TensorInfo | undefined>) => ts.filter((t): t is tf.TensorInfo => t !== undefined).map(flat);
    let b: tf.TensorInfo | undefined;
    if (flags.momentum) {
      b = be.runWebGPUProgram(
        new SgdStepProgram(n, 'momentum', flags),
        present([flags.decay ? theta : undefined, g, flags.prev ? prev : undefined, mask]),
        'float32',
        uniforms,
      );
    }
    const next = be.runWebGPUProgram(new SgdStepProgram(n, 'theta', flags), present([theta, g, b, mask]), 'float32', uniforms);
    const shaped = (t: tf.TensorInfo) => ({ ...t, shape: theta.shape });
    return b ? [shaped(next), shaped(b)] : [shaped(next)];
  });
}
