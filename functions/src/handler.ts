/**
 * The Lambda entry of a tail function (ESM). Init happens here, at module load (top-level `await`):
 * the model is loaded, this point's files are checked and every onnxruntime session is created, so
 * their cost shows in the function's Init Duration and in `initMs`, not in the first request.
 *
 * Environment: `JMDC_POINT` (required), `JMDC_MODEL_DIR` (default `./model` next to this bundle),
 * `JMDC_THREADS`, `JMDC_MODEL_HASH`, `JMDC_MAX_*` limits (see `optionsFromEnv`).
 */
import { fileURLToPath } from 'node:url';
import { optionsFromEnv } from './config.js';
import type { LambdaContext } from './events.js';
import { createTailHandler, type TailResponse } from './TailHandler.js';

const tail = await createTailHandler(optionsFromEnv(process.env, fileURLToPath(new URL('./model', import.meta.url))));

export const handler = (event: unknown, context: LambdaContext): Promise<TailResponse> => tail.handle(event, context);
