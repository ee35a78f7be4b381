export { type AssemblyInfo, type FunctionSpec, readAssembly } from './assembly.js';
export { LocalCloudError, type LocalCloudErrorCode, LocalCloudErrorCodes } from './errors.js';
export { FAULT_KINDS, type FaultKind, type FaultSpec } from './faults.js';
export {
  type EndpointEntry,
  type EndpointsFile,
  type InvocationLog,
  type LocalCloud,
  type LocalCloudOptions,
  type LocalCloudStats,
  MAX_REQUEST_BYTES,
  startLocalCloud,
} from './localCloud.js';
export { type Credentials, type SigV4Result, verifySigV4 } from './sigv4.js';
export { assemblyKey, ensureAssembly, hostArchitecture, type SynthOptions } from './synth.js';
