export { type AgedSample, AgedSamples, type AgedSamplesOptions, weightedMedian } from './AgedSamples.js';
export { DEFAULT_SAMPLE_BOUNDS, isPlausible, type SampleBounds } from './bounds.js';
export {
  CircuitBreaker,
  type CircuitOptions,
  type CircuitSnapshot,
  type CircuitState,
} from './CircuitBreaker.js';
export {
  ColdStartModel,
  type ColdStartOptions,
  type ColdStartState,
  IDLE_BIN_EDGES_MS,
  priorColdProbability,
} from './ColdStartModel.js';
export {
  LinkEstimator,
  type LinkEstimatorOptions,
  type LinkEstimatorState,
  type LinkFit,
  type LinkSample,
} from './LinkEstimator.js';
export {
  type CloudObservation,
  type EstimatorOptions,
  type EstimatorPriors,
  type EstimatorState,
  type EstimatorStats,
  LiveEstimators,
} from './LiveEstimators.js';
export {
  defaultStatePath,
  type EdgeState,
  type ReadStateResult,
  readState,
  STATE_VERSION,
  writeState,
} from './stateFile.js';
export { WindowMedian } from './WindowMedian.js';
