import { readFileSync } from 'node:fs';
import { NetemError, NetemErrorCodes } from './errors.js';
import { profileConditions, validatePartialConditions } from './profiles.js';
import type { TraceStep } from './types/index.js';

/** Most steps a trace may hold. */
export const MAX_TRACE_STEPS = 100_000;

function bad(message: string, details: Record<string, unknown>, cause?: unknown): NetemError {
  return new NetemError(NetemErrorCodes.TRACE_INVALID, message, details, cause === undefined ? undefined : { cause });
}

/**
 * Loads and validates a trace: a path to a JSON file, a JSON string, or steps already in memory. The JSON is either
 * an array of steps or `{ "steps": [...] }`; each step is `{ "atMs": number, "conditions": profile name | partial
 * conditions, "label"?: string }`, with `atMs` non-decreasing.
 *
 * Throws {@link NetemError} `JMDC_ERR_NETEM_TRACE_NOT_FOUND` when the file cannot be read and
 * `JMDC_ERR_NETEM_TRACE_INVALID` (with `details.index` and `details.field`) for anything else.
 *
 * @example
 * const trace = loadTrace('infra/netem/traces/lte-to-3g.json')
 * const same = loadTrace('[{"atMs":0,"conditions":"lte"},{"atMs":5000,"conditions":{"rttMs":150}}]')
 */
export function loadTrace(pathOrJson: string | TraceStep[]): TraceStep[] {
  let raw: unknown = pathOrJson;
  if (typeof pathOrJson === 'string') {
    const text = pathOrJson.trimStart();
    let json: string;
    let source: string;
    if (text.startsWith('[') || text.startsWith('{')) {
      json = pathOrJson;
      source = 'JSON string';
    } else {
      source = pathOrJson;
      try {
        json = readFileSync(pathOrJson, 'utf8');
      } catch (err) {
        throw new NetemError(
          NetemErrorCodes.TRACE_NOT_FOUND,
          `cannot read trace file ${pathOrJson}: ${(err as Error).message}`,
          { path: pathOrJson },
          { cause: err },
        );
      }
    }
    try {
      raw = JSON.parse(json);
    } catch (err) {
      throw bad(`trace ${source} is not valid JSON: ${(err as Error).message}`, { source, field: 'json' }, err);
    }
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'steps' in raw) {
    raw = (raw as { steps: unknown }).steps;
  }
  if (!Array.isArray(raw)) throw bad('a trace must be an array of steps or { "steps": [...] }', { field: 'steps' });
  if (raw.length === 0) throw bad('a trace needs at least one step', { field: 'steps' });
  if (raw.length > MAX_TRACE_STEPS) {
    throw bad(`a trace holds at most ${MAX_TRACE_STEPS} steps, got ${raw.length}`, { field: 'steps' });
  }
  const steps: TraceStep[] = [];
  let prev = 0;
  raw.forEach((s: unknown, index) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      throw bad(`step ${index} must be an object`, { index, field: 'step' });
    }
    const r = s as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (k !== 'atMs' && k !== 'conditions' && k !== 'label') {
        throw bad(`step ${index}: unknown field '${k}'`, { index, field: k });
      }
    }
    const at = r.atMs;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
      throw bad(`step ${index}: atMs must be a finite number >= 0, got ${String(at)}`, { index, field: 'atMs' });
    }
    if (at < prev) {
      throw bad(`step ${index}: atMs ${at} is before the previous step's ${prev}`, { index, field: 'atMs' });
    }
    prev = at;
    const c = r.conditions;
    try {
      if (typeof c === 'string') profileConditions(c);
      else validatePartialConditions(c);
    } catch (err) {
      const inner = err as NetemError;
      throw bad(`step ${index}: ${inner.message}`, { index, field: 'conditions', innerCode: inner.code }, err);
    }
    if (r.label !== undefined && typeof r.label !== 'string') {
      throw bad(`step ${index}: label must be a string`, { index, field: 'label' });
    }
    const step: TraceStep = {
      atMs: at,
      conditions: typeof c === 'string' ? c : structuredClone(c as Exclude<TraceStep['conditions'], string>),
    };
    if (typeof r.label === 'string') step.label = r.label;
    steps.push(step);
  });
  return steps;
}
