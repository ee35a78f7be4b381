export { loadProfile, type NormalizeOptions, normalizeProfile, rowKind, variantIdFor } from './loadProfile.js';
export type * from './types.js';
