export { type AppContext, parsePerPoint, parsePoints, resolveModel, stackPropsFromContext } from '../lib/context.js';
export {
  DEFAULT_ENDPOINTS_FILE,
  type EndpointEntry,
  type EndpointsFile,
  endpointsFromOutputs,
  writeEndpointsFile,
} from '../lib/endpoints.js';
export { JmdcStack, type JmdcStackProps, type PerPoint } from '../lib/jmdc-stack.js';
export {
  type FunctionSources,
  functionSources,
  PartitionFunction,
  type PartitionFunctionProps,
  readManifest,
} from '../lib/partition-function.js';
