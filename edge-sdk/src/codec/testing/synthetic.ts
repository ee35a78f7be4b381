/**
 * Deterministic synthetic inputs for tests, golden files and the bench. Not part of the wire format.
 *
 * `realisticFeatures` imitates a block output of the jmdc VGG (models/jmdc_models/net.py): ReLU features
 * scaled by an SE channel gate in (0, 1), then multiplied by a CBAM-style spatial attention map in (0, 1)
 * (a sigmoid of a smooth field). Channels differ in scale and in how often they are zero.
 */
import type { FeatureBatch } from '../types.js';

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box-Muller) from a uniform source. */
export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A feature batch shaped like a partition-point output: sparse, skewed, spatially correlated with attention. */
export function realisticFeatures(dims: readonly [number, number, number], batch: number, seed = 1): FeatureBatch {
  const [c, h, w] = dims;
  const hw = h * w;
  const rand = prng(seed);
  const features = new Float32Array(batch * c * hw);
  const attention = new Float32Array(batch * hw);
  const chanScale = Float64Array.from({ length: c }, () => Math.exp(0.5 * gaussian(rand)));
  const chanBias = Float64Array.from({ length: c }, () => -0.3 + 0.6 * gaussian(rand));
  const chanGate = Float64Array.from({ length: c }, () => 0.2 + 0.8 * rand());
  const field = new Float64Array(hw);
  for (let n = 0; n < batch; n++) {
    // smooth field: a few Gaussian blobs ("the object") plus a little noise
    field.fill(0);
    const blobs = 1 + Math.floor(rand() * 3);
    for (let b = 0; b < blobs; b++) {
      const cy = rand() * h;
      const cx = rand() * w;
      const r = 0.15 * Math.max(h, w) + rand() * 0.25 * Math.max(h, w);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const d2 = ((y - cy) ** 2 + (x - cx) ** 2) / (r * r);
          field[y * w + x] = (field[y * w + x] as number) + 3 * Math.exp(-d2);
        }
      }
    }
    for (let i = 0; i < hw; i++) {
      const f = (field[i] as number) - 1.2 + 0.3 * gaussian(rand);
      field[i] = f;
      attention[n * hw + i] = 1 / (1 + Math.exp(-2 * f));
    }
    for (let ch = 0; ch < c; ch++) {
      const base = (n * c + ch) * hw;
      const resp = 0.3 + 0.7 * rand(); // how strongly this channel fires on the object
      for (let i = 0; i < hw; i++) {
        const pre = (chanBias[ch] as number) + resp * (field[i] as number) + 0.8 * gaussian(rand);
        const relu = pre > 0 ? pre : 0;
        features[base + i] =
          relu * (chanScale[ch] as number) * (chanGate[ch] as number) * (attention[n * hw + i] as number);
      }
    }
  }
  return { dims: [c, h, w], batch, features, attention };
}

/** Uniform noise features in [-1, 1) with uniform attention: the incompressible case. */
export function uniformFeatures(dims: readonly [number, number, number], batch: number, seed = 1): FeatureBatch {
  const [c, h, w] = dims;
  const rand = prng(seed);
  const features = Float32Array.from({ length: batch * c * h * w }, () => 2 * rand() - 1);
  const attention = Float32Array.from({ length: batch * h * w }, () => rand());
  return { dims: [c, h, w], batch, features, attention };
}

/** Smooth 8-bit test images (gradients, a disc, mild noise), NCHW. */
export function syntheticImages(dims: readonly [number, number, number], batch: number, seed = 1): Uint8Array {
  const [c, h, w] = dims;
  const rand = prng(seed);
  const out = new Uint8Array(batch * c * h * w);
  for (let n = 0; n < batch; n++) {
    const cy = rand() * h;
    const cx = rand() * w;
    const r = 0.2 * Math.min(h, w) + rand() * 0.3 * Math.min(h, w);
    for (let ch = 0; ch < c; ch++) {
      const tint = rand() * 80;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const inside = (y - cy) ** 2 + (x - cx) ** 2 < r * r;
          const v = (inside ? 170 + tint : 20 + (60 * x) / w + (40 * y) / h) + 6 * gaussian(rand);
          out[((n * c + ch) * h + y) * w + x] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return out;
}
