export type { InferenceBackend, InferenceSession, TensorData } from './backend.js';
export {
  artifactFiles,
  computeContentHash,
  featureDims,
  filesFor,
  findBottleneck,
  findVariant,
  getBottleneck,
  loadModel,
  modelFilePath,
  resolveModelDir,
  type SplitSide,
  sha256File,
  validateManifest,
  verifyModel,
  verifyModelFile,
} from './manifest.js';
export { preprocess } from './preprocess.js';
export { argmaxRows, type HeadOutput, ModelRunner, type SplitOptions, softmaxRows } from './runner.js';
export type * from './types.js';
