export type * from '../profile/types.js';
export type * from './classify.js';
export type * from './plan.js';
