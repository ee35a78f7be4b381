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

interface Queued {
  buf: Buffer;
  arrivedAt: number;
}

interface InFlight {
  buf: Buffer;
  deliverAt: number;
}

/**
 * A timer that fires at most this much early is taken as on time: setTimeout has 1 ms granularity and fires late
 * more often than early, so releasing what is due within half a millisecond keeps the error centred.
 */
const EARLY_MS = 0.5;

/**
 * One direction of an emulated link, from `src` to `dst`, modelled as a serializing link followed by a propagation
 * delay: a chunk that arrives at t starts when the link is free, leaves at max(t, link free) + size / rate (the rate
 * read when it starts, so rate changes apply to queued bytes), and is delivered one-way delay (+ jitter) later, never
 * before the chunk ahead of it. All times are virtual (computed from the previous chunk's times, not from when a timer
 * fired), so timer lateness does not accumulate; chunks due together are written in one batch.
 */
export class PacedPipe {
  private readonly queue: Queued[] = [];
  private readonly flight: InFlight[] = [];
  private queuedBytes = 0;
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

  /** Re-reads the conditions now (after a change) and reschedules. */
  poke(): void {
    this.pump();
  }

  /** Stops all timers; the sockets are the connection's to destroy. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.flight.length = 0;
  }

  private onData(buf: Buffer): void {
    if (this.stopped) return;
    const now = performance.now();
    const size = this.opts.chunkBytes;
    for (let off = 0; off < buf.length; off += size) {
      this.queue.push({ buf: buf.subarray(off, Math.min(off + size, buf.length)), arrivedAt: now });
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
    let nextAt = Number.POSITIVE_INFINITY;
    // serialization: commit every chunk whose transmission has finished by now
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const c = this.hooks.conditions();
      const start = Math.max(head.arrivedAt, this.linkFreeAt);
      const txMs = Number.isFinite(c.mbps) ? (head.buf.length * 8) / (c.mbps * 1000) : 0;
      const departAt = start + txMs;
      if (departAt > now + EARLY_MS) {
        nextAt = departAt;
        break;
      }
      this.queue.shift();
      this.linkFreeAt = departAt;
      let deliverAt = departAt + c.oneWayMs + (c.jitterMs > 0 ? this.hooks.random() * c.jitterMs : 0);
      const loss = c.loss;
      if (loss && loss.rate > 0 && this.hooks.random() < loss.rate) {
        if (loss.mode === 'reset') {
          this.stop();
          this.hooks.reset();
          return;
        }
        deliverAt += loss.stallMs ?? DEFAULT_STALL_MS;
        this.hooks.stalled();
      }
      deliverAt = Math.max(deliverAt, this.lastDeliverAt);
      this.lastDeliverAt = deliverAt;
      this.flight.push({ buf: head.buf, deliverAt });
    }
    // propagation: deliver, in one write, every chunk that is due
    let n = 0;
    while (n < this.flight.length && this.flight[n]!.deliverAt <= now + EARLY_MS) n++;
    if (n > 0) {
      const due = this.flight.splice(0, n);
      const out = due.length === 1 ? due[0]!.buf : Buffer.concat(due.map((d) => d.buf));
      this.queuedBytes -= out.length;
      if (!this.dst.destroyed && !this.dst.writableEnded) {
        this.dst.write(out);
        this.hooks.delivered(out.length);
      }
    }
    if (this.flight.length > 0) nextAt = Math.min(nextAt, this.flight[0]!.deliverAt);
    if (this.srcEnded && this.queue.length === 0 && this.flight.length === 0 && !this.dstEnded) {
      this.dstEnded = true;
      if (!this.dst.destroyed) this.dst.end();
    }
    this.maybeResume();
    this.schedule(nextAt, now);
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
