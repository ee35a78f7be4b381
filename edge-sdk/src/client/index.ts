export { type CalibrateOptions, deviceName, measureHeads } from './calibrate.js';
export { type ImageBatch, toImageBatch } from './input.js';
export { JmdcClient } from './JmdcClient.js';
export type { ClientTimeouts, Clock, JmdcClientOptions } from './options.js';
