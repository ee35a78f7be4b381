import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJmdcError } from '../errors.js';
import { classifyNetworkError } from './errors.js';
import { FLOAT32_MAX, implausibleTimings, parseCloudResponse, parseRetryAfter } from './response.js';

const OK = {
  classes: [1],
  logits: [[0, 2, 1]],
  serverMs: 3,
  decodeMs: 1,
  inferMs: 2,
  coldStart: false,
  initMs: 0,
  modelHash: 'sha256:aa',
  requestId: 'r',
};

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isJmdcError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('parseCloudResponse', () => {
  it('accepts the largest float32 and refuses the next representable float64 above the float32 range', () => {
    const top = { ...OK, classes: [0], logits: [[FLOAT32_MAX, 0, -FLOAT32_MAX]] };
    expect(parseCloudResponse(top).logits[0]?.[0]).toBe(FLOAT32_MAX);
    expect(Float32Array.from([FLOAT32_MAX])[0]).toBe(FLOAT32_MAX);
    expect(codeOf(() => parseCloudResponse({ ...OK, logits: [[0, 3.5e38, 0]] }))).toBe(ErrorCodes.BAD_RESPONSE);
    expect(codeOf(() => parseCloudResponse({ ...OK, logits: [[0, -1e39, 0]] }))).toBe(ErrorCodes.BAD_RESPONSE);
  });

  it('checks the model hash before the shape: another model is JMDC_ERR_MODEL_MISMATCH', () => {
    const other = { ...OK, modelHash: 'sha256:bb', logits: [[1, 0]], classes: [0] };
    expect(codeOf(() => parseCloudResponse(other, { classes: 3, modelHash: 'sha256:aa' }))).toBe(
      ErrorCodes.MODEL_MISMATCH,
    );
    expect(codeOf(() => parseCloudResponse({ ...OK, modelHash: '' }))).toBe(ErrorCodes.BAD_RESPONSE);
  });

  it('accepts a tie at the argmax and refuses a class out of range', () => {
    expect(parseCloudResponse({ ...OK, classes: [2], logits: [[0, 2, 2]] }).classes).toEqual([2]);
    expect(codeOf(() => parseCloudResponse({ ...OK, classes: [3] }))).toBe(ErrorCodes.BAD_RESPONSE);
    expect(codeOf(() => parseCloudResponse({ ...OK, classes: [0.5] }))).toBe(ErrorCodes.BAD_RESPONSE);
  });
});

describe('implausibleTimings', () => {
  it('flags timings beyond the bounds or longer than the request took', () => {
    expect(implausibleTimings(OK)).toEqual([]);
    expect(implausibleTimings({ ...OK, serverMs: 1e6 })).toEqual(['serverMs']);
    expect(implausibleTimings({ ...OK, initMs: 1e308 })).toEqual(['initMs']);
    expect(implausibleTimings({ ...OK, decodeMs: -1 })).toEqual(['decodeMs']);
    expect(implausibleTimings({ ...OK, serverMs: 100, inferMs: 90 }, {}, 40)).toEqual(['serverMs', 'inferMs']);
    expect(implausibleTimings({ ...OK, serverMs: 44 }, {}, 40)).toEqual([]); // 40 x 1.01 + 5 ms of slack
    expect(implausibleTimings({ ...OK, initMs: 2000 }, { maxInitMs: 1000 })).toEqual(['initMs']);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP-dates, and nothing else', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.parse('Wed, 21 Oct 2026 07:27:58 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-1')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('classifyNetworkError', () => {
  it('treats every not-sent code alike and keeps the cause', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']) {
      const cause = Object.assign(new Error(`connect ${code}`), { code });
      const e = classifyNetworkError(cause);
      expect(e.code, code).toBe(ErrorCodes.NETWORK);
      expect((e as { retryable?: boolean }).retryable, code).toBe(true);
      expect(e.cause).toBe(cause);
    }
  });

  it('retries a reset only before the request was sent; timeouts by phase', () => {
    const reset = Object.assign(new Error('socket'), { code: 'UND_ERR_SOCKET', cause: { code: 'ECONNRESET' } });
    expect(classifyNetworkError(reset, { sent: false })).toMatchObject({ code: ErrorCodes.NETWORK, retryable: true });
    expect(classifyNetworkError(reset, { sent: true })).toMatchObject({ code: ErrorCodes.NETWORK, retryable: false });
    const connect = Object.assign(new Error('t'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    const headers = Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    const sdk = Object.assign(new Error('t'), { name: 'TimeoutError' });
    expect(classifyNetworkError(connect)).toMatchObject({ code: ErrorCodes.TIMEOUT, retryable: true });
    expect(classifyNetworkError(headers)).toMatchObject({ code: ErrorCodes.TIMEOUT, retryable: false });
    expect(classifyNetworkError(sdk)).toMatchObject({ code: ErrorCodes.TIMEOUT, retryable: false });
  });
});
