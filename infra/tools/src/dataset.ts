/**
 * Evaluation data for the CLI: the Fashion-MNIST IDX gz files the model was trained on, split into
 * val/test exactly as the training pipeline did (val indices from the model's splits.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ErrorCodes, JmdcError } from '@jmdc/edge-sdk/errors';

export interface LabeledImages {
  /** N images of [C, H, W] uint8 (the manifest's sourceShape), concatenated. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** C*H*W */
  imageBytes: number;
}

/** Reads an unsigned-byte IDX file (optionally gzip-compressed); returns its dims and data. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  let buf = readFileSync(path);
  if (path.endsWith('.gz')) buf = gunzipSync(buf);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) {
    throw new JmdcError(ErrorCodes.INVALID_ARGUMENT, `${path}: not an unsigned-byte IDX file`);
  }
  const ndim = buf[3] ?? 0;
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const offset = 4 + 4 * ndim;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (buf.length - offset !== expected) {
    throw new JmdcError(
      ErrorCodes.INVALID_ARGUMENT,
      `${path}: ${buf.length - offset} data bytes, header says ${expected}`,
    );
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + offset, expected) };
}

interface Splits {
  root: string;
  val: { indices: number[] };
  test?: { count?: number | null };
}

/**
 * The `val` or `test` split of a model's dataset (Fashion-MNIST), optionally only the first `limit` images.
 *
 * @example
 * const { images, labels, count } = loadSplit('/path/models/fmnist-vgg16', 'test', 1000)
 */
export function loadSplit(modelDir: string, split: 'val' | 'test', limit?: number, dataDir?: string): LabeledImages {
  const splitsPath = join(modelDir, 'splits.json');
  if (!existsSync(splitsPath)) {
    throw new JmdcError(ErrorCodes.MODEL_NOT_FOUND, `${splitsPath} missing: this model has no evaluation split`);
  }
  const splits = JSON.parse(readFileSync(splitsPath, 'utf8')) as Splits;
  const root = dataDir ?? process.env.JMDC_DATA_DIR ?? splits.root;
  const prefix = split === 'test' ? 't10k' : 'train';
  const imgPath = join(root, `${prefix}-images-idx3-ubyte.gz`);
  if (!existsSync(imgPath)) {
    throw new JmdcError(
      ErrorCodes.MODEL_NOT_FOUND,
      `${imgPath} missing (install Debian's dataset-fashion-mnist or set JMDC_DATA_DIR)`,
    );
  }
  const imgs = readIdx(imgPath);
  const labs = readIdx(join(root, `${prefix}-labels-idx1-ubyte.gz`));
  const [n, h, w] = imgs.dims as [number, number, number];
  const per = h * w;
  const testCount = Math.min(n, splits.test?.count ?? n);
  const all = split === 'test' ? Array.from({ length: testCount }, (_, i) => i) : splits.val.indices;
  const idx = limit !== undefined ? all.slice(0, limit) : all;
  const images = new Uint8Array(idx.length * per);
  const labels = new Uint8Array(idx.length);
  idx.forEach((src, i) => {
    images.set(imgs.data.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = labs.data[src] ?? 255;
  });
  return { images, labels, count: idx.length, imageBytes: per };
}
