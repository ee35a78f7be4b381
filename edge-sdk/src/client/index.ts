export { type CalibrateOptions, deviceName, measureHeads } from './calibrate.js';
export { type ImageBatch, toImageBatch } from './input.js';
export { type ClientStats, JmdcClient } from './JmdcClient.js';
export {
  type CircuitOptionsInput,
  type ClientTimeouts,
  type Clock,
  type ExploreOptions,
  type JmdcClientOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
