/**
 * The one place this package takes the error hierarchy from (`@jmdc/edge-sdk/errors`, the module the
 * codec and the model runner throw from), so every `instanceof` check here sees their classes.
 */
export {
  CodecError,
  type ErrorCode,
  ErrorCodes,
  isJmdcError,
  JmdcError,
  ModelError,
  statusForCode,
} from '@jmdc/edge-sdk/errors';
