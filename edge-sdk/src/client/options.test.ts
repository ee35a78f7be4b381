import { describe, expect, it } from 'vitest';
import { tinyProfile } from '../../../test/sdk/tinyProfile.js';
import { ErrorCodes, isJmdcError, type JmdcError } from '../errors.js';
import type { InferenceBackend } from '../model/backend.js';
import type { Transport } from '../transport/types.js';
import { JmdcClient } from './JmdcClient.js';
import { type JmdcClientOptions, resolveOptions } from './options.js';

const TINY = new URL('../../../test/fixtures/models/tiny-vgg11/', import.meta.url).pathname;

/** A transport and a backend that record whether anything was started. */
function spies() {
  const calls: string[] = [];
  const transport: Transport = {
    points: [0, 1, 2],
    send: async () => {
      calls.push('send');
      throw new Error('not expected');
    },
    close: async () => {
      calls.push('close');
    },
  };
  const backend: InferenceBackend = {
    load: async () => {
      calls.push('load');
      throw new Error('not expected');
    },
  };
  return { calls, transport, backend };
}

async function createError(opts: Record<string, unknown>): Promise<{ err: JmdcError; calls: string[] }> {
  const { calls, transport, backend } = spies();
  const err = await JmdcClient.create({
    model: TINY,
    transport,
    backend,
    stateFile: false,
    onWarning: () => {},
    ...opts,
  } as JmdcClientOptions).then(
    () => {
      throw new Error('created');
    },
    (e: unknown) => e as JmdcError,
  );
  return { err, calls };
}

describe('option validation, in one place and before any side effect', () => {
  it('rejects a misspelled key (endpoint:) with the list of known keys', async () => {
    const { err, calls } = await createError({ endpoint: 'endpoints.json' });
    expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect(err.message).toMatch(/^unknown option 'endpoint'; known: model, endpoints, objective/);
    expect(err.details).toMatchObject({ unknown: ['endpoint'] });
    expect(calls).toEqual([]);
  });

  it.each([
    [
      { timeouts: { deadline: 500 } },
      /unknown option 'deadline' in timeouts; known: connectMs, headersMs, bodyMs, deadlineMs/,
    ],
    [{ retry: { maxAttempt: 2 } }, /unknown option 'maxAttempt' in retry; known: maxAttempts/],
    [{ priors: { rtt: 5, bw: 1 } }, /unknown options 'rtt', 'bw' in priors; known: uplinkMbps, rttMs, initMs/],
    [{ objective: { minimize: 'latency', minAcc: 0.9 } }, /unknown key 'minAcc'.*known: minimize, minAccuracy/],
    [{ circuit: { base: 5 } }, /unknown option 'base' in circuit; known: baseMs, maxMs/],
    [{ explore: { interval: 5 } }, /unknown option 'interval' in explore/],
  ])('rejects unknown nested keys: %j', async (opts, message) => {
    const { err, calls } = await createError(opts);
    expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect(err.message).toMatch(message);
    expect(calls).toEqual([]);
  });

  it.each([
    [{ threads: '4' }, "threads must be an integer >= 0 and <= 256, got '4' (a string)"],
    [{ threads: 2.5 }, 'threads must be an integer >= 0 and <= 256, got 2.5'],
    [{ probeIntervalMs: -1 }, 'probeIntervalMs must be a number >= 0, got -1'],
    [{ timeouts: { deadlineMs: 0 } }, 'timeouts.deadlineMs must be a number > 0, got 0'],
    [{ timeouts: { connectMs: '1000' } }, "timeouts.connectMs must be a number > 0, got '1000' (a string)"],
    [{ warmUp: 'yes' }, "warmUp must be true or false, got 'yes' (a string)"],
    [
      { transport: 'urll' },
      "transport must be 'url', 'invoke' or a Transport ({ points, send, close }), got 'urll' (a string)",
    ],
    [{ objective: { minimize: 'latency', maxLatencyMs: 50 } }, /unknown key 'maxLatencyMs'/],
    [{ objective: { maximize: 'accuracy' } }, 'objective.maxLatencyMs must be a positive number, got undefined'],
    [{ circuit: { baseMs: 5000, maxMs: 1000 } }, 'circuit.maxMs must be a number >= 5000, got 1000'],
    [{ explore: { uploadProbeBytes: 1 } }, 'explore.uploadProbeBytes must be an integer >= 64 and <= 1048576, got 1'],
    [{ explore: { waitMs: -1 } }, 'explore.waitMs must be a number >= 0 and <= 60000, got -1'],
  ])('says what %j must be and what it got', async (opts, message) => {
    const { err, calls } = await createError(opts);
    expect(isJmdcError(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
    expect(calls).toEqual([]);
  });

  it('validates probeIntervalMs before the warm-up starts (nothing sent, nothing loaded)', async () => {
    const { err, calls } = await createError({ warmUp: true, probeIntervalMs: Number.NaN, priors: { initMs: 1500 } });
    expect(err.message).toBe('probeIntervalMs must be a number >= 0, got NaN');
    expect(calls).toEqual([]);
  });

  it('starts nothing when a later step fails (an accuracy floor no row reaches: JMDC_ERR_NO_PLAN)', async () => {
    const { err, calls } = await createError({
      profile: tinyProfile(),
      warmUp: true,
      objective: { minimize: 'latency', minAccuracy: 0.999 },
    });
    expect(err.code).toBe(ErrorCodes.NO_PLAN);
    expect(err.message).toMatch(/no setting reaches accuracy 0.999 \(best: 0.9200\)/);
    expect(calls).toEqual([]); // no warm-up sent, no session loaded, the injected transport left to its owner
  });

  it('fills in the documented defaults', () => {
    const r = resolveOptions({ model: 'm' });
    expect(r).toMatchObject({
      transport: 'url',
      threads: 0,
      persistIntervalMs: 60_000,
      http: {},
      deadline: { fixedMs: undefined, floorMs: 1000, factor: 3 },
      costWeight: 0,
      warmUp: true,
      probeIntervalMs: 0,
      explore: { intervalMs: 30_000, uploadProbeBytes: 4096, waitMs: 250 },
      circuit: { baseMs: 1000, maxMs: 60_000 },
      alternatives: 3,
    });
    expect(resolveOptions({ model: 'm', explore: false }).explore).toBe(false);
    // every RetryOptions key is an option of the client
    expect(resolveOptions({ model: 'm', retry: { maxRetryAfterMs: 5000 } }).retry).toEqual({ maxRetryAfterMs: 5000 });
    expect(() => resolveOptions({ model: 'm', retry: { maxRetryAfterMs: -1 } })).toThrow(
      'retry.maxRetryAfterMs must be a number >= 0, got -1',
    );
    expect(() => resolveOptions(null as unknown as JmdcClientOptions)).toThrow(/options must be an object, got null/);
    expect(() => resolveOptions({} as JmdcClientOptions)).toThrow(/model must be a model id or folder, got undefined/);
  });
});
