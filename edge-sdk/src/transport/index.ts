export { DeadlineScope, remainingMs } from './deadline.js';
export {
  type EndpointsFile,
  type EndpointsInput,
  type PointEndpoint,
  type ResolvedEndpoints,
  resolveEndpoints,
} from './endpoints.js';
export {
  classifyNetworkError,
  errorCode,
  type NetworkErrorContext,
  NOT_SENT_CODES,
  RESET_CODES,
} from './errors.js';
export {
  InvokeTransport,
  type InvokeTransportOptions,
  type LambdaClientLike,
  type LambdaSdk,
  loadLambdaSdk,
} from './InvokeTransport.js';
export {
  assertSigningAllowed,
  checkLoopbackHost,
  type HostLookup,
  isLoopbackAddress,
  isLoopbackHost,
  type LoopbackVerdict,
  resolveSigning,
} from './loopback.js';
export {
  DEFAULT_TIMING_BOUNDS,
  errorForStatus,
  FLOAT32_MAX,
  implausibleTimings,
  parseCloudResponse,
  parseRetryAfter,
  RETRYABLE_STATUS,
} from './response.js';
export { attemptsOf, type RetryOptions, RetryPolicy, withAttempts } from './retry.js';
export { type CredentialsInput, RequestSigner } from './sigv4.js';
export type {
  CloudResponse,
  ExpectedAnswer,
  RequestTiming,
  SendOptions,
  SendResult,
  TimingBounds,
  Transport,
} from './types.js';
export { type HttpTimeouts, UrlTransport, type UrlTransportOptions } from './UrlTransport.js';
