/**
 * `@jmdc/edge-sdk`: split DNN inference between this device and AWS Lambda with joint model and data
 * compression. The wire codec is `@jmdc/edge-sdk/codec`, the model runner `@jmdc/edge-sdk/model`, the
 * onnxruntime backend `@jmdc/edge-sdk/ort` (loaded by the client only when no backend is injected).
 *
 * @example
 * import { JmdcClient } from '@jmdc/edge-sdk'
 * const client = await JmdcClient.create({ model: 'fmnist-vgg16', endpoints: 'endpoints.json' })
 * const { classes, decision } = await client.classify(pixels)
 */

// the client
export { type CalibrateOptions, deviceName, measureHeads } from './client/calibrate.js';
export { JmdcClient } from './client/JmdcClient.js';
export type { ClientTimeouts, Clock, JmdcClientOptions } from './client/options.js';
// errors
export {
  CodecError,
  type ErrorCode,
  ErrorCodes,
  isJmdcError,
  JmdcError,
  ModelError,
  statusForCode,
  TransportError,
} from './errors.js';
// estimators
export {
  type CloudObservation,
  ColdStartModel,
  type ColdStartOptions,
  type ColdStartState,
  defaultStatePath,
  type EdgeState,
  type EstimatorOptions,
  type EstimatorPriors,
  type EstimatorState,
  IDLE_BIN_EDGES_MS,
  LiveEstimators,
  priorColdProbability,
  type ReadStateResult,
  readState,
  STATE_VERSION,
  WindowMedian,
  writeState,
} from './estimators/index.js';
export type { InferenceBackend, InferenceSession, TensorData } from './model/backend.js';
// planner and profile
export {
  DEFAULT_PRICING,
  type LambdaPricing,
  lambdaCostUsd,
  Planner,
  type PlannerOptions,
  validateObjective,
} from './planner/index.js';
export { loadProfile, type NormalizeOptions, normalizeProfile, rowKind, variantIdFor } from './profile/index.js';
// transport
export {
  type CloudResponse,
  type CredentialsInput,
  type EndpointsFile,
  type EndpointsInput,
  type HttpTimeouts,
  InvokeTransport,
  type InvokeTransportOptions,
  type PointEndpoint,
  RequestSigner,
  type ResolvedEndpoints,
  type RetryOptions,
  RetryPolicy,
  resolveEndpoints,
  type SendOptions,
  type SendResult,
  type Transport,
  UrlTransport,
  type UrlTransportOptions,
} from './transport/index.js';
// public types
export type * from './types/index.js';
