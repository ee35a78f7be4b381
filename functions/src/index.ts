export { FUNCTION_LIMITS, optionsFromEnv, type TailHandlerOptions } from './config.js';
export {
  decodeBase64,
  type EventShape,
  type FunctionUrlEvent,
  type FunctionUrlResult,
  type InvokeEvent,
  isFunctionUrlEvent,
  type LambdaContext,
  payloadFromFunctionUrl,
  payloadFromInvoke,
} from './events.js';
export { assertPoint, modelBytesForPoint, modelFilesForPoint, tailBlocks, verifyPointFiles } from './modelFiles.js';
export {
  createTailHandler,
  type InvokeResult,
  type TailErrorBody,
  TailHandler,
  type TailResponse,
  type TailResult,
} from './TailHandler.js';
