export type { InferenceBackend, InferenceSession, TensorData } from './backend.js';
export {
  artifactFiles,
  computeContentHash,
  featureDims,
  findVariant,
  loadModel,
  modelFilePath,
  resolveModelDir,
  sha256File,
  validateManifest,
  verifyModel,
} from './manifest.js';
export { preprocess } from './preprocess.js';
export { argmaxRows, type HeadOutput, ModelRunner, softmaxRows } from './runner.js';
export type * from './types.js';
