/**
 * A value and its type for error messages: `'4' (a string)`, `-1`, `undefined`.
 *
 * @example
 * describeValue('4') // "'4' (a string)"
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}' (a string)`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
