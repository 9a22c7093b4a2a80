import { registerHostBatchNorm } from './batch-norm.ts';
import { registerComposedConvBackprop } from './conv-backprop.ts';
import { registerHostMaxPoolGrad } from './max-pool-grad.ts';
import { registerUntransposedBatchMatMul } from './wasm/batch-mat-mul.ts';
import { registerSimdFilterGrad } from './wasm/conv-backprop-filter.ts';
import { registerSgdStep } from './wasm/sgd-step.ts';
import { registerSimdReluGrad } from './wasm/relu-grad.ts';
import { registerSimdConv2D } from './wasm/conv2d.ts';
import { registerSimdInputGrad } from './wasm/conv-backprop-input.ts';
import { registerSharedIdentity } from './wasm/identity.ts';
import { registerChunkedAddN } from './webgpu/add-n.ts';
import { registerComposedBatchNorm } from './webgpu/batch-norm.ts';
import { registerWgslBatchNorm } from './webgpu/batch-norm-wgsl.ts';
import { registerWebGpuConvBackprop } from './webgpu/conv-backprop.ts';
import { registerWebGpuReluGrad } from './webgpu/relu-grad.ts';
import { registerWebGpuRunningAverage } from './webgpu/running-average.ts';
import { registerWebGpuSgdStep } from './webgpu/sgd-step.ts';

/**
 * The one place that decides which of the project's kernels each backend gets. Models, criteria
 * and the trainer call tfjs ops only; what runs below them is chosen here.
 */
const KERNELS_BY_BACKEND: Record<string, Array<(backendName: string) => void>> = {
  wasm: [
    registerSharedIdentity,
    registerUntransposedBatchMatMul,
    registerComposedConvBackprop,
    registerSimdFilterGrad,
    registerSimdInputGrad,
    registerSimdConv2D,
    registerHostMaxPoolGrad,
    registerHostBatchNorm,
    registerSgdStep,
    registerSimdReluGrad,
  ],
  cpu: [registerHostBatchNorm],
  webgpu: [
    registerChunkedAddN,
    registerWebGpuConvBackprop,
    registerComposedBatchNorm,
    registerWgslBatchNorm,
    registerWebGpuSgdStep,
    registerWebGpuReluGrad,
    registerWebGpuRunningAverage,
  ],
};

export function registerProjectKernels(backendName: string): void {
  for (const register of KERNELS_BY_BACKEND[backendName] ?? []) register(backendName);
}
