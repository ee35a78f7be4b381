/**
 * `@jmdc/netem`: network and device emulation for running jmdc on one machine. A shaping TCP proxy on loopback
 * (rate, delay, jitter, loss, traces of changing conditions) and CPU budgets (cgroup CPU quota, else one thread) that
 * stand in for a weaker edge device.
 */
export { createCpuBudget } from './cpu/createCpuBudget.js';
export { DEVICE_PRESETS, devicePreset } from './cpu/devicePresets.js';
export { type CpuFractionMeasurement, type MeasureCpuOptions, measureCpuFraction } from './cpu/measureCpuFraction.js';
export { NetemError, type NetemErrorCode, NetemErrorCodes } from './errors.js';
export { playTrace } from './playTrace.js';
export {
  DEFAULT_STALL_MS,
  formatConditions,
  NETWORK_PROFILES,
  profileConditions,
  profileNames,
  resolveConditions,
  validatePartialConditions,
} from './profiles.js';
export { mulberry32 } from './random.js';
export { startShapingProxy } from './startShapingProxy.js';
export { loadTrace, MAX_TRACE_STEPS } from './trace.js';
export type * from './types/index.js';
