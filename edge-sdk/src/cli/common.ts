/** Model + runner + data setup shared by `jmdc eval` and `jmdc profile`. */
import { loadModel, ModelRunner } from '../model/index.js';
import { OrtBackend } from '../runtime/index.js';
import { loadSplit } from './dataset.js';
import { Evaluator } from './evaluate.js';

export function openEvaluator(model: string, split: 'val' | 'test', limit: number | undefined, threads: number) {
  const loaded = loadModel(model);
  const runner = new ModelRunner(loaded, new OrtBackend({ intraOpThreads: threads }));
  const data = loadSplit(loaded.dir, split, limit);
  return new Evaluator(loaded, runner, data);
}
