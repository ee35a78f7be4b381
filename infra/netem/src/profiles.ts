import { NetemError, NetemErrorCodes } from './errors.js';
import type { LinkConditions, LossConditions, NetworkProfile } from './types/index.js';

/** Stall length of the `stall` loss mode when none is given: Linux's minimum TCP retransmission timeout, ms. */
export const DEFAULT_STALL_MS = 200;

const NEUROSURGEON =
  'Kang et al., "Neurosurgeon", ASPLOS 2017: 152 KB uploaded in 870 / 180 / 95 ms over 3G / LTE / Wi-Fi';

/**
 * Named network profiles. Uplink rates are effective (goodput) rates; where a value has no published source it says
 * "assumption". The responses of a split inference are a few hundred bytes, so the downlink rate adds well under a
 * millisecond at any of these rates.
 *
 * @example
 * const proxy = await startShapingProxy({ target, conditions: NETWORK_PROFILES.lte })
 * proxy.setConditions('3g')
 */
export const NETWORK_PROFILES: Readonly<Record<string, Readonly<NetworkProfile>>> = Object.freeze({
  loopback: {
    uplinkMbps: Number.POSITIVE_INFINITY,
    downlinkMbps: Number.POSITIVE_INFINITY,
    rttMs: 0,
    description: 'No shaping: bytes pass as fast as loopback carries them',
    source: 'none (the machine itself)',
  },
  wifi: {
    uplinkMbps: 12.8,
    downlinkMbps: 50,
    rttMs: 10,
    jitterMs: 2,
    description: 'Wi-Fi to a nearby cloud region',
    source: `uplink 12.8 Mbit/s: ${NEUROSURGEON} (1.216 Mbit / 0.095 s); downlink, RTT 10 ms and jitter: assumption (the benchmark grid's low RTT)`,
  },
  lte: {
    uplinkMbps: 6.8,
    downlinkMbps: 20,
    rttMs: 40,
    jitterMs: 5,
    description: 'LTE',
    source: `uplink 6.8 Mbit/s: ${NEUROSURGEON} (1.216 Mbit / 0.180 s); downlink, RTT 40 ms and jitter: assumption (the benchmark grid's middle RTT)`,
  },
  '3g': {
    uplinkMbps: 1.4,
    downlinkMbps: 4,
    rttMs: 150,
    jitterMs: 10,
    description: '3G (HSPA)',
    source: `uplink 1.4 Mbit/s: ${NEUROSURGEON} (1.216 Mbit / 0.870 s); downlink, RTT 150 ms and jitter: assumption (the benchmark grid's high RTT)`,
  },
  'ookla-mobile': {
    uplinkMbps: 14.8,
    downlinkMbps: 14.8,
    rttMs: 24,
    description: 'Global median mobile connection',
    source:
      'uplink 14.8 Mbit/s and latency 24 ms to a nearby server: Ookla Speedtest Global Index, median mobile, Dec 2025; downlink set equal to uplink: assumption (the median download is higher, and responses are small)',
  },
  nbiot: {
    uplinkMbps: 0.025,
    downlinkMbps: 0.05,
    rttMs: 300,
    jitterMs: 20,
    description: 'A thin IoT uplink (NB-IoT class)',
    source:
      'uplink 25 kbit/s: within the 5-50 kbit/s NB-IoT rates seen in practice (DESIGN.md facts); downlink 50 kbit/s, RTT 300 ms and jitter: assumption',
  },
} satisfies Record<string, NetworkProfile>);

/** Names of {@link NETWORK_PROFILES}. */
export function profileNames(): string[] {
  return Object.keys(NETWORK_PROFILES);
}

/**
 * The link conditions of a profile (without its source and description).
 *
 * @example
 * profileConditions('lte') // { uplinkMbps: 6.8, downlinkMbps: 20, rttMs: 40, jitterMs: 5 }
 */
export function profileConditions(name: string): LinkConditions {
  const p = Object.hasOwn(NETWORK_PROFILES, name) ? NETWORK_PROFILES[name] : undefined;
  if (!p) {
    throw new NetemError(
      NetemErrorCodes.UNKNOWN_PROFILE,
      `unknown network profile '${name}' (known: ${profileNames().join(', ')})`,
      { name, known: profileNames() },
    );
  }
  const { source: _s, description: _d, ...conditions } = p;
  return cloneConditions(conditions);
}

function cloneConditions(c: LinkConditions): LinkConditions {
  const out: LinkConditions = { uplinkMbps: c.uplinkMbps, downlinkMbps: c.downlinkMbps, rttMs: c.rttMs };
  if (c.jitterMs !== undefined) out.jitterMs = c.jitterMs;
  if (c.loss !== undefined) out.loss = { ...c.loss };
  return out;
}

const KEYS = new Set(['uplinkMbps', 'downlinkMbps', 'rttMs', 'jitterMs', 'loss']);
const LOSS_KEYS = new Set(['rate', 'mode', 'stallMs']);

function invalid(message: string, field: string, value: unknown): NetemError {
  return new NetemError(NetemErrorCodes.INVALID_CONDITIONS, message, { field, value });
}

function checkRate(field: string, v: unknown): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) {
    throw invalid(`${field} must be a number > 0 in Mbit/s (Infinity for no limit), got ${String(v)}`, field, v);
  }
}

function checkMs(field: string, v: unknown, max: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
    throw invalid(`${field} must be a finite number of ms in 0..${max}, got ${String(v)}`, field, v);
  }
}

function checkLoss(v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('loss must be an object', 'loss', v);
  for (const k of Object.keys(v)) {
    if (!LOSS_KEYS.has(k)) throw invalid(`unknown loss field '${k}'`, `loss.${k}`, (v as Record<string, unknown>)[k]);
  }
  const l = v as Partial<LossConditions>;
  if (typeof l.rate !== 'number' || !(l.rate >= 0 && l.rate <= 1)) {
    throw invalid(`loss.rate must be a probability in 0..1, got ${String(l.rate)}`, 'loss.rate', l.rate);
  }
  if (l.mode !== 'stall' && l.mode !== 'reset') {
    throw invalid(`loss.mode must be 'stall' or 'reset', got ${String(l.mode)}`, 'loss.mode', l.mode);
  }
  if (l.stallMs !== undefined) checkMs('loss.stallMs', l.stallMs, 600_000);
}

/**
 * Validates a partial set of link conditions; throws {@link NetemError} `JMDC_ERR_NETEM_INVALID_CONDITIONS` naming
 * the first bad field.
 *
 * @example
 * validatePartialConditions({ rttMs: 40 }) // ok
 * validatePartialConditions({ rttMs: -1 }) // throws JMDC_ERR_NETEM_INVALID_CONDITIONS
 */
export function validatePartialConditions(c: unknown): asserts c is Partial<LinkConditions> {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw invalid('conditions must be an object or a profile name', 'conditions', c);
  }
  const r = c as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!KEYS.has(k)) throw invalid(`unknown condition '${k}'`, k, r[k]);
  }
  if ('uplinkMbps' in r) checkRate('uplinkMbps', r.uplinkMbps);
  if ('downlinkMbps' in r) checkRate('downlinkMbps', r.downlinkMbps);
  if ('rttMs' in r) checkMs('rttMs', r.rttMs, 600_000);
  if ('jitterMs' in r && r.jitterMs !== undefined) checkMs('jitterMs', r.jitterMs, 600_000);
  if ('loss' in r) checkLoss(r.loss);
}

/**
 * Resolves conditions as `setConditions` does: a profile name gives that profile's conditions; a partial set is
 * validated and merged over `base` (`loss: undefined` removes loss).
 *
 * @example
 * resolveConditions({ rttMs: 150 }, profileConditions('lte')) // LTE rates with a 150 ms RTT
 */
export function resolveConditions(c: Partial<LinkConditions> | string, base: LinkConditions): LinkConditions {
  if (typeof c === 'string') return profileConditions(c);
  validatePartialConditions(c);
  const merged = cloneConditions(base);
  if (c.uplinkMbps !== undefined) merged.uplinkMbps = c.uplinkMbps;
  if (c.downlinkMbps !== undefined) merged.downlinkMbps = c.downlinkMbps;
  if (c.rttMs !== undefined) merged.rttMs = c.rttMs;
  if ('jitterMs' in c) {
    if (c.jitterMs === undefined) delete merged.jitterMs;
    else merged.jitterMs = c.jitterMs;
  }
  if ('loss' in c) {
    if (c.loss === undefined) delete merged.loss;
    else merged.loss = { ...c.loss };
  }
  return merged;
}

/**
 * One line describing conditions, for logs: `up 6.8 Mbit/s, down 20 Mbit/s, RTT 40 ms, jitter 5 ms`.
 *
 * @example
 * formatConditions(profileConditions('3g'))
 */
export function formatConditions(c: LinkConditions): string {
  const rate = (v: number): string => (Number.isFinite(v) ? `${v} Mbit/s` : 'unlimited');
  let s = `up ${rate(c.uplinkMbps)}, down ${rate(c.downlinkMbps)}, RTT ${c.rttMs} ms`;
  if (c.jitterMs) s += `, jitter ${c.jitterMs} ms`;
  if (c.loss && c.loss.rate > 0) {
    s += `, loss ${c.loss.rate} ${c.loss.mode}`;
    if (c.loss.mode === 'stall') s += ` ${c.loss.stallMs ?? DEFAULT_STALL_MS} ms`;
  }
  return s;
}
