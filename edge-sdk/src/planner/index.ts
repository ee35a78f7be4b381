export { batchCost, batchShares, DEFAULT_DEVICE_COSTS, linearMs, requestCost, rowEncodeMs } from './deviceCosts.js';
export {
  DEFAULT_ACCURACY_MARGIN,
  defaultMinAccuracy,
  Planner,
  type PlannerOptions,
  validateObjective,
} from './planner.js';
export { DEFAULT_PRICING, type LambdaPricing, lambdaCostUsd } from './pricing.js';
