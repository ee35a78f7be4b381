/**
 * The planner's offline decisions over uplink x RTT x device slowdown x batch, with the profile's reference
 * timings scaled by the slowdown (what `jmdc plan --edge-slowdown X` prints), as one JSON file:
 *
 *   node --import tsx scripts/plan-map.mts [REPO] [OUT.json]
 *
 * REPO defaults to this checkout; pointing it at another checkout (a `git worktree` of an older commit)
 * gives the decisions of that commit's planner and model for a before/after comparison.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const repo = resolve(process.argv[2] ?? '.');
const out = process.argv[3] ?? 'plan-map.json';
const { main } = await import(`${repo}/edge-sdk/src/cli/main.ts`);
const cells: Record<string, unknown>[] = [];
const print = console.log;
for (const batch of [1, 16])
  for (const slowdown of [16.7, 50, 150])
    for (const uplinkMbps of [0.05, 0.25, 1, 5, 20])
      for (const rttMs of [10, 40, 150]) {
        let last = '';
        console.log = (s: unknown) => {
          last = String(s);
        };
        const args = ['plan', '--model', `${repo}/models/fmnist-vgg16`, '--uplink-mbps', String(uplinkMbps)];
        args.push('--rtt-ms', String(rttMs), '--edge-slowdown', String(slowdown), '--batch', String(batch));
        args.push('--state', '/nonexistent/state.json', '--alternatives', '0', '--json');
        const rc = await main(args);
        console.log = print;
        if (rc !== 0) throw new Error(`jmdc ${args.join(' ')} exited with ${rc}`);
        const j = JSON.parse(last.split('\n').at(-1) ?? '{}');
        cells.push({ batch, slowdown, uplinkMbps, rttMs, decision: j.decision, predicted: j.predicted });
        const d = j.decision;
        print(
          [batch, slowdown, uplinkMbps, rttMs, d.kind, d.point, d.variant, d.keep, d.bits, d.quantScope ?? '']
            .concat([d.bottleneck ? 'bottleneck' : '', j.predicted.totalMs.toFixed(1)])
            .join('\t'),
        );
      }
writeFileSync(out, `${JSON.stringify(cells, null, 1)}\n`);
