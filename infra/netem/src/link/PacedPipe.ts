import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { DEFAULT_STALL_MS } from '../profiles.js';
import type { LossConditions } from '../types/index.js';

/** The conditions one direction of a link applies. */
export interface DirectionConditions {
  /** Rate in Mbit/s; `Infinity` for none. */
  mbps: number;
  oneWayMs: number;
  jitterMs: number;
  loss?: LossConditions;
}

/** What a pipe reports to its connection. */
export interface PipeHooks {
  /** The conditions in force now (read for every chunk, so changes apply to bytes not yet sent). */
  conditions(): DirectionConditions;
  /** Uniform random number in [0, 1). */
  random(): number;
  /** Bytes handed to the destination socket. */
  delivered(bytes: number): void;
  stalled(): void;
  /** The link lost a chunk in `reset` mode: the connection must be torn down. */
  reset(): void;
}

/** Options of a {@link PacedPipe}. */
export interface PipeOptions {
  chunkBytes: number;
  maxQueueBytes: number;
  /** No chunk leaves before this time (performance.now() ms): the TCP handshake of a new connection. */
  notBefore?: number;
}

/** A chunk on the link: its transmission and delivery times are computed when it arrives, and re-timed if the
 * conditions change before it has left. */
interface Chunk {
  buf: Buffer;
  arrivedAt: number;
  /** Serialization time at the rate it was timed with, ms. */
  txMs: number;
  /** When its last bit leaves the sender. */
  departAt: number;
  /** When it is handed to the receiver. */
  deliverAt: number;
  /** Its jitter sample and stall, kept across re-timing. */
  jitterMs: number;
  stallMs: number;
  /** Lost in `reset` mode: the connection is reset when it would have been delivered. */
  reset: boolean;
}

/**
 * A timer that fires at most this much early is taken as on time: setTimeout has 1 ms granularity and fires late
 * more often than early, so releasing what is due within half a millisecond keeps the error centred.
 */
const EARLY_MS = 0.5;

/**
 * One direction of an emulated link, from `src` to `dst`, modelled as a serializing link followed by a propagation
 * delay: a chunk that arrives at t leaves at max(t, when the link is free) + size / rate and is delivered one-way
 * delay (+ its jitter sample, + a stall if lost in `stall` mode) later, never before the chunk ahead of it. Times are
 * computed when a chunk arrives, from the previous chunk's times (timer lateness does not accumulate), so one timer per
 * direction waits for the next delivery; chunks due together are written in one batch. When the conditions change,
 * chunks that have not left yet are re-timed ({@link PacedPipe.poke}).
 */
export class PacedPipe {
  /** Chunks not yet delivered, in order. */
  private readonly chunks: Chunk[] = [];
  private queuedBytes = 0;
  /** When the link finishes sending the last chunk timed so far. */
  private linkFreeAt: number;
  private lastDeliverAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private srcEnded = false;
  private dstEnded = false;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly hooks: PipeHooks,
    private readonly opts: PipeOptions,
  ) {
    this.linkFreeAt = opts.notBefore ?? 0;
    src.on('data', (buf: Buffer) => this.onData(buf));
    src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    dst.on('drain', () => this.maybeResume());
  }

  /** Whether the source sent its FIN (what it sent before is still delivered). */
  get sourceEnded(): boolean {
    return this.srcEnded;
  }

  /**
   * The conditions changed: chunks that have not left yet are re-timed from now at the new rate and delay (the chunk
   * being sent keeps the part already sent); chunks already on the wire keep their delivery time.
   */
  poke(): void {
    if (this.stopped) return;
    const now = performance.now();
    const c = this.hooks.conditions();
    let i = this.chunks.findIndex((k) => k.departAt > now);
    if (i >= 0) {
      // the link is free for chunk i when the chunk before it has left (or, with none left in the list, when chunk i
      // was due to start: that already holds the earlier departures and the handshake)
      const first = this.chunks[i]!;
      this.linkFreeAt = i > 0 ? this.chunks[i - 1]!.departAt : first.departAt - first.txMs;
      this.lastDeliverAt = i > 0 ? this.chunks[i - 1]!.deliverAt : 0;
      for (; i < this.chunks.length; i++) {
        const k = this.chunks[i]!;
        const start = k.departAt - k.txMs;
        const txMs = this.txMs(k.buf.length, c);
        if (start < now) {
          // in transmission: what is left of it goes at the new rate
          k.txMs = txMs;
          k.departAt = now + ((k.departAt - now) / (k.departAt - start)) * txMs;
        } else {
          k.txMs = txMs;
          k.departAt = Math.max(k.arrivedAt, this.linkFreeAt) + txMs;
        }
        this.linkFreeAt = k.departAt;
        this.setDelivery(k, c);
      }
    }
    this.pump();
  }

  /** Stops all timers; the sockets are the connection's to destroy. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.chunks.length = 0;
  }

  private txMs(bytes: number, c: DirectionConditions): number {
    return Number.isFinite(c.mbps) ? (bytes * 8) / (c.mbps * 1000) : 0;
  }

  private setDelivery(k: Chunk, c: DirectionConditions): void {
    k.deliverAt = Math.max(k.departAt + c.oneWayMs + k.jitterMs + k.stallMs, this.lastDeliverAt);
    this.lastDeliverAt = k.deliverAt;
  }

  private onData(buf: Buffer): void {
    if (this.stopped) return;
    const now = performance.now();
    const c = this.hooks.conditions();
    const size = this.opts.chunkBytes;
    for (let off = 0; off < buf.length; off += size) {
      const piece = buf.subarray(off, Math.min(off + size, buf.length));
      const txMs = this.txMs(piece.length, c);
      const departAt = Math.max(now, this.linkFreeAt) + txMs;
      this.linkFreeAt = departAt;
      const k: Chunk = {
        buf: piece,
        arrivedAt: now,
        txMs,
        departAt,
        deliverAt: 0,
        jitterMs: c.jitterMs > 0 ? this.hooks.random() * c.jitterMs : 0,
        stallMs: 0,
        reset: false,
      };
      const loss = c.loss;
      if (loss && loss.rate > 0 && this.hooks.random() < loss.rate) {
        if (loss.mode === 'reset') k.reset = true;
        else {
          k.stallMs = loss.stallMs ?? DEFAULT_STALL_MS;
          this.hooks.stalled();
        }
      }
      this.setDelivery(k, c);
      this.chunks.push(k);
    }
    this.queuedBytes += buf.length;
    if (!this.paused && this.queuedBytes + this.dst.writableLength > this.opts.maxQueueBytes) {
      this.paused = true;
      this.src.pause();
    }
    this.pump();
  }

  private maybeResume(): void {
    if (this.paused && !this.stopped && this.queuedBytes + this.dst.writableLength <= this.opts.maxQueueBytes / 2) {
      this.paused = false;
      this.src.resume();
    }
  }

  private pump(): void {
    if (this.stopped) return;
    const now = performance.now();
    // deliver, in one write, every chunk that is due
    let n = 0;
    while (n < this.chunks.length && this.chunks[n]!.deliverAt <= now + EARLY_MS) {
      if (this.chunks[n]!.reset) {
        this.stop();
        this.hooks.reset();
        return;
      }
      n++;
    }
    if (n > 0) {
      const due = this.chunks.splice(0, n);
      const out = due.length === 1 ? due[0]!.buf : Buffer.concat(due.map((d) => d.buf));
      this.queuedBytes -= out.length;
      if (!this.dst.destroyed && !this.dst.writableEnded) {
        this.dst.write(out);
        this.hooks.delivered(out.length);
      }
    }
    if (this.srcEnded && this.chunks.length === 0 && !this.dstEnded) {
      this.dstEnded = true;
      if (!this.dst.destroyed) this.dst.end();
    }
    this.maybeResume();
    this.schedule(this.chunks.length > 0 ? this.chunks[0]!.deliverAt : Number.POSITIVE_INFINITY, now);
  }

  private schedule(at: number, now: number): void {
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, Math.floor(at - now)),
    );
  }
}
