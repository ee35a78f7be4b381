/** Model + runner + data setup shared by `npm run eval` and `npm run profile`. */
import { loadModel, ModelRunner } from '@jmdc/edge-sdk/model';
import { OrtBackend } from '@jmdc/edge-sdk/ort';
import { loadSplit } from './dataset.js';
import { Evaluator } from './evaluate.js';

export function openEvaluator(model: string, split: 'val' | 'test', limit: number | undefined, threads: number) {
  const loaded = loadModel(model);
  const runner = new ModelRunner(loaded, new OrtBackend({ intraOpThreads: threads }));
  const data = loadSplit(loaded.dir, split, limit);
  return new Evaluator(loaded, runner, data);
}
