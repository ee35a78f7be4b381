/**
 * The one place this package takes the error hierarchy from (edge-sdk's `src/errors.ts`, through the
 * package's root export), so every `instanceof` check here sees the classes the codec and model throw.
 */
export { CodecError, type ErrorCode, ErrorCodes, isJmdcError, JmdcError, ModelError, statusForCode } from '@jmdc/edge-sdk';
