/**
 * Fault injection: per function (or `'*'`), at start or at run time, with a probability and a count.
 */

/** The kinds of fault the local cloud can inject. */
export type FaultKind =
  /** The connection is destroyed without a response (the function does not run). */
  | 'drop'
  /** HTTP 500 with Lambda's `ServiceException` shape (the function does not run). */
  | 'status500'
  /** HTTP 429 `TooManyRequestsException` (the function does not run). */
  | 'throttle'
  /** The function runs; its response is held for `delayMs` (default: the function timeout + 1 s). */
  | 'slow'
  /** Every idle instance of the function is killed first, so the request and the next ones start cold. */
  | 'coldStorm'
  /** The instance serving the request is SIGKILLed after the event was handed over: `Runtime.ExitError`. */
  | 'dieMidRequest'
  /** The request gets a new instance whose init fails (`Runtime.InjectedInitFailure`). */
  | 'initFailure';

/** Every fault kind, in a stable order. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'drop',
  'status500',
  'throttle',
  'slow',
  'coldStorm',
  'dieMidRequest',
  'initFailure',
];

/**
 * One fault.
 *
 * @example
 * cloud.injectFault('*', { kind: 'throttle', probability: 0.2 })
 * cloud.injectFault(cloud.functions[0].name, { kind: 'dieMidRequest', count: 1 })
 */
export interface FaultSpec {
  kind: FaultKind;
  /** Chance that a matching request gets the fault. @default 1 */
  probability?: number;
  /** How many requests get it at most, then it is spent. @default unlimited */
  count?: number;
  /** Only `slow`: how long the response is held. @default the function timeout + 1000 ms */
  delayMs?: number;
}

interface ActiveFault {
  /** Function name, or `'*'`. */
  target: string;
  spec: FaultSpec;
  remaining: number;
}

/** The faults in force; {@link FaultTable.pick} decides, per request, which one fires (at most one). */
export class FaultTable {
  private faults: ActiveFault[] = [];
  readonly counts: Record<string, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]));

  constructor(private readonly random: () => number = Math.random) {}

  add(target: string, spec: FaultSpec): void {
    this.faults.push({ target, spec, remaining: spec.count ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault this request of `functionName` gets, if any; counts it and spends one of its `count`. */
  pick(functionName: string): FaultSpec | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0 || (f.target !== '*' && f.target !== functionName)) continue;
      if (this.random() >= (f.spec.probability ?? 1)) continue;
      f.remaining--;
      this.counts[f.spec.kind] = (this.counts[f.spec.kind] ?? 0) + 1;
      return f.spec;
    }
    return undefined;
  }
}
