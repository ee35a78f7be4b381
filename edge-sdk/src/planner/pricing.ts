/**
 * AWS Lambda prices used for the optional cost term.
 *
 * Source: https://aws.amazon.com/lambda/pricing/ (US East (N. Virginia), Arm architecture, first
 * tier of 7.5 billion GB-seconds per month), as given in the project's issue 4 and listed there in
 * 2025: $0.0000133334 per GB-second, $0.20 per 1M requests. Data transfer INTO AWS is free
 * (https://aws.amazon.com/ec2/pricing/on-demand/, "Data Transfer IN To Amazon EC2 From Internet": $0.00);
 * the response (a few hundred bytes of logits) is not counted. Since 2025-08-01 the INIT phase of
 * on-demand functions is billed like the handler's duration, so the expected init time of a cold
 * start is billed too.
 *
 * @example
 * new Planner(profile, { pricing: { memoryMb: 3008 } })
 */
export interface LambdaPricing {
  /** USD per GB-second of duration. @default 0.0000133334 (arm64) */
  gbSecondUsd: number;
  /** USD per request. @default 0.0000002 ($0.20 per 1M) */
  requestUsd: number;
  /** Memory of the tail functions, MB. @default 2048 */
  memoryMb: number;
}

/**
 * The default prices (arm64, us-east-1, 2025).
 *
 * @example
 * const usd = lambdaCostUsd(120, DEFAULT_PRICING) // 120 ms at 2048 MB: 3.4e-6 USD
 */
export const DEFAULT_PRICING: Readonly<LambdaPricing> = Object.freeze({
  gbSecondUsd: 0.0000133334,
  requestUsd: 0.2 / 1_000_000,
  memoryMb: 2048,
});

/**
 * Expected USD of one request that runs `billedMs` in a function.
 *
 * @example
 * lambdaCostUsd(100) // 100 ms x 2 GB x 0.0000133334 + 0.0000002
 */
export function lambdaCostUsd(billedMs: number, pricing: LambdaPricing = DEFAULT_PRICING): number {
  return (billedMs / 1000) * (pricing.memoryMb / 1024) * pricing.gbSecondUsd + pricing.requestUsd;
}
