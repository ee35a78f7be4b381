/**
 * Errors of the local cloud, with stable string codes. Callers and tests match on `code`.
 */

export const LocalCloudErrorCodes = {
  /** The cloud assembly folder lacks a manifest, a template or an asset. */
  ASSEMBLY_INVALID: 'JMDC_ERR_LOCAL_CLOUD_ASSEMBLY',
  /** `cdk synth` failed. */
  SYNTH_FAILED: 'JMDC_ERR_LOCAL_CLOUD_SYNTH',
  /** An option of {@link startLocalCloud} is out of range. */
  INVALID_OPTION: 'JMDC_ERR_LOCAL_CLOUD_OPTION',
  /** A fault target names no function. */
  UNKNOWN_FUNCTION: 'JMDC_ERR_LOCAL_CLOUD_UNKNOWN_FUNCTION',
  /** The local cloud was stopped. */
  STOPPED: 'JMDC_ERR_LOCAL_CLOUD_STOPPED',
} as const;

export type LocalCloudErrorCode = (typeof LocalCloudErrorCodes)[keyof typeof LocalCloudErrorCodes];

/** An error of the local cloud itself (not of a function it runs). */
export class LocalCloudError extends Error {
  readonly code: LocalCloudErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: LocalCloudErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LocalCloudError';
    this.code = code;
    this.details = details;
  }
}
