/**
 * Errors of `@jmdc/netem`. Every error carries a stable string `code`; callers and tests match on it.
 */

/** Stable error codes of the network and device emulators. Never rename one: callers match on them. */
export const NetemErrorCodes = {
  /** Link conditions out of range or of the wrong type. */
  INVALID_CONDITIONS: 'JMDC_ERR_NETEM_INVALID_CONDITIONS',
  /** A network profile or device preset name that does not exist. */
  UNKNOWN_PROFILE: 'JMDC_ERR_NETEM_UNKNOWN_PROFILE',
  /** A trace file that cannot be read. */
  TRACE_NOT_FOUND: 'JMDC_ERR_NETEM_TRACE_NOT_FOUND',
  /** A trace that is not valid JSON or whose steps fail validation. */
  TRACE_INVALID: 'JMDC_ERR_NETEM_TRACE_INVALID',
  /** An option of the proxy, the CPU budget or the CLI that is out of range. */
  INVALID_ARGUMENT: 'JMDC_ERR_NETEM_INVALID_ARGUMENT',
  /** The proxy could not listen on the requested port. */
  LISTEN_FAILED: 'JMDC_ERR_NETEM_LISTEN_FAILED',
  /** A call on a proxy or budget that was closed. */
  CLOSED: 'JMDC_ERR_NETEM_CLOSED',
  /** A cgroup write that should have worked (the budget was created) failed. */
  CGROUP_WRITE: 'JMDC_ERR_NETEM_CGROUP_WRITE',
  /** A CPU measurement child failed. */
  MEASURE_FAILED: 'JMDC_ERR_NETEM_MEASURE_FAILED',
} as const;

export type NetemErrorCode = (typeof NetemErrorCodes)[keyof typeof NetemErrorCodes];

/** The one error class of `@jmdc/netem`. */
export class NetemError extends Error {
  readonly code: NetemErrorCode;
  /** Extra machine-readable facts (field, index, value, path). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: NetemErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NetemError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: NetemErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}
