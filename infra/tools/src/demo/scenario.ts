/**
 * What the demo's network does while it runs. The default scenario changes conditions at fixed
 * fractions of the run, so that a run of any length passes through every phase: a good Wi-Fi link,
 * then a 3G link with a long RTT, then a thin NB-IoT-class uplink, then an idle gap longer than the
 * local cloud keeps an idle instance (the functions go cold) and Wi-Fi again.
 */
import type { LinkConditions } from '@jmdc/netem';

/** The device the demo emulates unless `--device` says otherwise (the benchmark's step trace runs on it too). */
export const DEFAULT_DEVICE = 'pi-zero2';
/** The idle gap before the last phase of the default scenario, ms. */
export const DEFAULT_GAP_MS = 25_000;
/** The demo's local cloud reaps idle instances after this long, ms: below {@link DEFAULT_GAP_MS}, so the gap reaps them. */
export const DEFAULT_IDLE_TIMEOUT_MS = 20_000;

/** One phase of a scenario, starting at a fraction of the images. */
export interface Phase {
  /** First image of the phase as a fraction of the run, 0..1. */
  from: number;
  label: string;
  /** A named network profile of `@jmdc/netem` or explicit conditions. */
  conditions: string | Partial<LinkConditions>;
  /** Wait this long (no requests) before the phase starts. @default 0 */
  idleBeforeMs?: number;
}

/**
 * The default scenario. `gapMs` is the idle gap before the last phase; the demo sets the local
 * cloud's idle timeout below it, so the last phase starts with cold functions.
 */
export function defaultScenario(gapMs: number): Phase[] {
  return [
    { from: 0, label: 'Wi-Fi', conditions: 'wifi' },
    { from: 0.2, label: '3G', conditions: '3g' },
    { from: 0.4, label: 'NB-IoT', conditions: 'nbiot' },
    { from: 0.6, label: `Wi-Fi after ${Math.round(gapMs / 1000)} s idle`, conditions: 'wifi', idleBeforeMs: gapMs },
  ];
}

/** The index of the first image of each phase for a run of `images` images (phases never empty when images >= phases). */
export function phaseStarts(phases: readonly Phase[], images: number): number[] {
  const starts = phases.map((p) => Math.min(images, Math.round(p.from * images)));
  for (let i = 1; i < starts.length; i++) {
    const prev = starts[i - 1] as number;
    if ((starts[i] as number) <= prev && prev < images) starts[i] = prev + 1;
  }
  return starts;
}
