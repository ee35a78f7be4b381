/** Test helpers shared by the codec tests and the Lambda handler tests (no test-runner imports). */
import { CodecError, type ErrorCode } from '../../errors.js';

/**
 * Runs `fn` and returns the `code` of the CodecError it throws, or `undefined` when it returns.
 * Any other throwable is rethrown, so a test fails on a crash or a generic Error.
 */
export function codecErrorCode(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e.code;
    throw e;
  }
  return undefined;
}
