/**
 * `@jmdc/edge-sdk`: split DNN inference between this device and AWS Lambda with joint model and data
 * compression. What an app calls is here: {@link JmdcClient} and its options and results, the
 * planner (for "what would it do under these conditions" without running anything), the profile
 * loader, the state file location, the error hierarchy and the transports (to inject or configure
 * one). The wire codec is `@jmdc/edge-sdk/codec`, the model runner `@jmdc/edge-sdk/model`, the
 * onnxruntime backend `@jmdc/edge-sdk/ort` (loaded by the client only when no backend is injected).
 * The estimators behind the client are internal: `client.stats()` and `client.conditions()` show
 * what they believe.
 *
 * @example
 * import { JmdcClient } from '@jmdc/edge-sdk'
 * const client = await JmdcClient.create({ model: 'fmnist-vgg16', endpoints: 'endpoints.json' })
 * const { classes, decision } = await client.classify(pixels)
 * console.log(client.stats().uplinkMbps)
 * await client.close()
 */

// the client
export { type CalibrateOptions, calibrationIssues, deviceName } from './client/calibrate.js';
export { type ClientStats, JmdcClient } from './client/JmdcClient.js';
export type {
  CircuitOptionsInput,
  ClientTimeouts,
  Clock,
  ExploreOptions,
  JmdcClientOptions,
} from './client/options.js';
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
// what the client reports about its estimates
export type { SampleBounds } from './estimators/bounds.js';
export type { CircuitSnapshot, CircuitState } from './estimators/CircuitBreaker.js';
export type { EstimatorPriors, EstimatorStats } from './estimators/LiveEstimators.js';
export { defaultStatePath } from './estimators/stateFile.js';
export type { InferenceBackend, InferenceSession, TensorData } from './model/backend.js';
// planner and profile
export {
  DEFAULT_ACCURACY_MARGIN,
  DEFAULT_PRICING,
  defaultMinAccuracy,
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
  type LambdaClientLike,
  type PointEndpoint,
  type RequestTiming,
  type ResolvedEndpoints,
  type RetryOptions,
  resolveEndpoints,
  type SendOptions,
  type SendResult,
  type Transport,
  UrlTransport,
  type UrlTransportOptions,
} from './transport/index.js';
// public types
export type * from './types/index.js';
