export {
  type EndpointsFile,
  type EndpointsInput,
  type PointEndpoint,
  type ResolvedEndpoints,
  resolveEndpoints,
} from './endpoints.js';
export { InvokeTransport, type InvokeTransportOptions } from './InvokeTransport.js';
export { errorForStatus, parseCloudResponse, RETRYABLE_STATUS } from './response.js';
export { type RetryOptions, RetryPolicy } from './retry.js';
export { type CredentialsInput, RequestSigner } from './sigv4.js';
export type { CloudResponse, SendOptions, SendResult, Transport } from './types.js';
export { type HttpTimeouts, UrlTransport, type UrlTransportOptions } from './UrlTransport.js';
