export {
  ColdStartModel,
  type ColdStartOptions,
  type ColdStartState,
  IDLE_BIN_EDGES_MS,
  priorColdProbability,
} from './ColdStartModel.js';
export {
  type CloudObservation,
  type EstimatorOptions,
  type EstimatorPriors,
  type EstimatorState,
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
