/**
 * `npm run fuzz`: hostile input for the wire decoder and the tail functions.
 *
 *   npm run fuzz -- [--quick] [--cases N] [--target in-process|cloud] [--warmup N] [--model ID]
 *                   [--points 0,2,4] [--seed S] [--json]
 *
 * The last line of stdout is `{ cases, crashes, hangs, status5xx, rssGrowthPct, ... }`; the exit code is 1
 * when any case crashed, hung, got a 5xx or a wrong answer, or RSS grew by 10% or more.
 */
import { join } from 'node:path';
import { num, parseFlags, runCommand, UsageError } from '@jmdc/edge-sdk/cli';
import { type FuzzStats, HANG_MS } from './oracle.js';
import { runCloud } from './runCloud.js';
import { runInProcess } from './runInProcess.js';

const REPO = join(import.meta.dirname, '..', '..', '..', '..');
/** The small fixture model of the quick run. */
export const TINY_MODEL = join(REPO, 'test', 'fixtures', 'models', 'tiny-vgg11');

export const usage = `usage: npm run fuzz -- [options]
  --quick         10,000 cases against the tiny fixture model (in-process: points 0, 2 and 5; cloud: 0 and 2)
                  (default: 100,000 cases against fmnist-vgg16's points 0, 2 and 4)
  --cases N       number of cases
  --target T      in-process (default): the tail handlers and the decoder in this process;
                  cloud: the bundled handlers in their own processes behind the local cloud, every case
                  signed, alternately over the Function URL route and the Invoke API
  --warmup N      cases run before RSS is first measured (default 5000 in-process, 2000 cloud)
  --model ID      model id or folder
  --points LIST   comma-separated partition points whose tail functions are fuzzed
  --seed S        fast-check seed of the first batch (default 1)
  --json          print the whole result as JSON before the summary line
The last line of stdout is one JSON object { cases, crashes, hangs, status5xx, rssGrowthPct, ... }.`;

const FLAGS = {
  quick: { type: 'boolean' },
  cases: { type: 'string' },
  target: { type: 'string' },
  warmup: { type: 'string' },
  model: { type: 'string' },
  points: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** The summary line: the five counts first, then what else a reader needs to trust them. */
export function summaryLine(r: FuzzStats & { rssGrowthPct: number; seconds: number }, target: string) {
  return {
    cases: r.cases,
    crashes: r.crashes + r.decoderCrashes,
    hangs: r.hangs,
    status5xx: r.status5xx,
    rssGrowthPct: r.rssGrowthPct,
    wrongAnswers: r.wrongAnswers,
    maxCaseMs: Math.round(r.maxCaseMs * 10) / 10,
    maxCaseCpuMs: Math.round(r.maxCaseCpuMs * 10) / 10,
    slowWall: r.slowWall,
    seconds: r.seconds,
    target,
  };
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(usage);
    return 0;
  }
  const quick = f.quick === true;
  const where = f.target ?? 'in-process';
  if (where !== 'in-process' && where !== 'cloud') throw new UsageError('--target must be in-process or cloud');
  const cases = f.cases !== undefined ? num(f.cases, 'cases', { min: 1, int: true }) : quick ? 10_000 : 100_000;
  const model = f.model ?? (quick ? TINY_MODEL : 'fmnist-vgg16');
  const defaultPoints = quick ? (where === 'cloud' ? '0,2' : '0,2,5') : '0,2,4';
  const points = (f.points ?? defaultPoints).split(',').map((p) => num(p, 'points', { min: 0, int: true }));
  const seed = f.seed !== undefined ? num(f.seed, 'seed', { int: true }) : 1;
  const warmup = f.warmup !== undefined ? { warmup: num(f.warmup, 'warmup', { min: 0, int: true }) } : {};
  let lastPct = -1;
  const onProgress = (done: number, s: FuzzStats) => {
    const pct = Math.floor((100 * done) / cases / 10) * 10;
    if (pct !== lastPct) {
      lastPct = pct;
      process.stderr.write(`fuzz ${done}/${cases} crashes ${s.crashes} 5xx ${s.status5xx} wrong ${s.wrongAnswers}\n`);
    }
  };
  const opts = { model, points, cases, seed, onProgress, ...warmup };
  const r =
    where === 'cloud'
      ? await runCloud({ ...opts, onInfo: (l) => process.stderr.write(`local cloud: ${l}\n`) })
      : await runInProcess(opts);
  const target = `${where} ${model.split('/').pop()} points ${points.join(',')}`;
  const line = summaryLine(r, target);
  if (f.json) console.log(JSON.stringify(r));
  else {
    console.log(
      `fuzz: ${target}, ${r.cases} cases in ${r.seconds} s (max per case: ${line.maxCaseMs} ms wall, ${line.maxCaseCpuMs} ms CPU; ${r.slowWall} over ${HANG_MS} ms wall)`,
    );
    if ('heapBeforeMb' in r) {
      console.log(
        `  RSS ${r.rssBeforeMb} MB after ${r.warmupCases} warm-up cases -> ${r.rssAfterMb} MB (${r.rssGrowthPct}%); JS heap ${r.heapBeforeMb} -> ${r.heapAfterMb} MB`,
      );
    } else {
      console.log(
        `  routes: ${r.byRoute.url} Function URL, ${r.byRoute.invoke} Invoke; cold starts ${r.coldStarts}; instances ${r.instancesBefore} -> ${r.instancesAfter} (${r.instancesReplaced} replaced)`,
      );
      console.log(
        `  RSS of the instance processes ${r.rssBeforeMb} MB after ${r.warmupCases} warm-up cases -> ${r.rssAfterMb} MB (${r.rssGrowthPct}%); at each tenth: ${r.rssSamplesMb.join(', ')} MB`,
      );
    }
    for (const [fam, s] of Object.entries(r.byFamily).sort()) {
      console.log(
        `  ${fam.padEnd(14)} ${String(s.cases).padStart(7)} cases  ${String(s.accepted).padStart(6)} x 200  ${String(s.rejected).padStart(7)} x 4xx`,
      );
    }
    for (const [code, n] of Object.entries(r.codes).sort((a, b) => b[1] - a[1]))
      console.log(`  ${code.padEnd(34)} ${n}`);
    for (const x of r.failures) console.log(`  FAILURE ${x.family}: ${x.reason}: ${x.detail}`);
  }
  console.log(JSON.stringify(line));
  const bad = line.crashes + line.hangs + line.status5xx + line.wrongAnswers > 0 || line.rssGrowthPct >= 10;
  return bad ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCommand('fuzz', { run, usage }, process.argv.slice(2));
}
