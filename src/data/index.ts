export type { Dataset, Split, ImageShape } from './types.ts';
export { loadDataset, datasetNames, type LoadOptions } from './registry.ts';
export type { SyntheticOptions } from './synthetic.ts';
export { fetchDataset, type FetchOptions, type FetchResult } from './fetch.ts';
export { verifyDataset, type VerifySummary } from './verify.ts';
export { NORMALIZATION, normalizeInto, channelStats } from './normalize.ts';
export { augmentInto, cropFlipInto, drawCropFlip, CROP_PADDING } from './augment.ts';
export { epochOrder, iterateBatches, makeBatch, type BatchOptions } from './batches.ts';
export { scoringSample, sampleChunks } from './scoring-sample.ts';
