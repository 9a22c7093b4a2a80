import * as tf from '@tensorflow/tfjs';
import { usage } from '../../util/errors.ts';
import { resetWebGpuCounters } from './webgpu-counters.ts';
import { useQueuedSmallUploads } from './webgpu-uploads.ts';

/** The GPU Dawn runs on, as its adapter reports it. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of Vulkan (lavapipe, SwiftShader): correct but slow. */
  software: boolean;
}

type GpuNavigator = { gpu?: GPU };
let dawn: { gpu: GPU; adapter: GPUAdapter; info: AdapterInfo } | undefined;

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|cpu/i;

function describe(adapter: GPUAdapter): AdapterInfo {
  const i = adapter.info;
  const info = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description };
  const software = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true || SOFTWARE.test(Object.values(info).join(' '));
  return { ...info, software };
}

/**
 * Brings Dawn up once per process (npm `webgpu`: prebuilt dawn.node over the machine's Vulkan
 * driver) and returns its adapter, or a one-line reason why there is none.
 */
export async function probeWebGpu(): Promise<AdapterInfo | string> {
  if (dawn) return dawn.info;
  let gpu: GPU;
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    gpu = create([]);
  } catch (err) {
    return `Dawn (npm package 'webgpu') failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) {
    return "Dawn found no Vulkan GPU adapter: install the Vulkan loader (libvulkan1) and a driver — the GPU vendor's, or Mesa ≥ 25 lavapipe on a CPU-only machine (scripts/install-lavapipe.sh)";
  }
  dawn = { gpu, adapter, info: describe(adapter) };
  return dawn.info;
}

/** Registers tfjs's webgpu backend on Dawn and makes it current. */
export async function startWebGpu(): Promise<AdapterInfo> {
  const probed = await probeWebGpu();
  if (typeof probed === 'string') usage(`backend 'webgpu' cannot start: ${probed}`);
  // tfjs-backend-webgpu registers itself on import only when navigator.gpu exists.
  const nav = ((globalThis as { navigator?: GpuNavigator }).navigator ??= {} as GpuNavigator);
  Object.defineProperty(nav, 'gpu', { value: dawn!.gpu, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) usage("backend 'webgpu' failed to initialize on this adapter: use --backend wasm");
  useQueuedSmallUploads(tf.backend());
  const device = (tf.backend() as tf.KernelBackend & { device: GPUDevice }).device;
  device.addEventListener('uncapturederror', (event) => {
    // A rejected shader or command buffer means wrong numbers downstream, never a slowdown: say so.
    const message = (event as GPUUncapturedErrorEvent).error.message.split('\n')[0];
    if (deviceErrors.push(message) === 1) process.stderr.write(`pipeline: webgpu device error (results are invalid): ${message}\n`);
  });
  return probed as AdapterInfo;
}

const deviceErrors: string[] = [];

/** Validation and out-of-memory errors the GPU device reported (tests assert there are none). */
export function webGpuDeviceErrors(): readonly string[] {
  return deviceErrors;
}

/** Drops tfjs's device and Dawn's instance so the event loop can empty and the process exit. */
export function stopWebGpu(): void {
  if (!dawn) return;
  resetWebGpuCounters();
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  const nav = (globalThis as { navigator?: GpuNavigator }).navigator;
  if (nav) delete nav.gpu;
  dawn = undefined;
}
