import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'netem-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions', 'source', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  const exit = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, exit, out: () => out, err: () => err };
}

describe('netem CLI', () => {
  it('proxy runs in the foreground, prints one line per trace step, and stops on SIGTERM', async () => {
    const trace = join(dir, 'trace.json');
    writeFileSync(
      trace,
      JSON.stringify([
        { atMs: 0, conditions: 'wifi', label: 'start' },
        { atMs: 150, conditions: { rttMs: 150 }, label: 'far' },
      ]),
    );
    const p = run(['proxy', '--target', '127.0.0.1:9', '--profile', 'lte', '--trace', trace]);
    try {
      for (let i = 0; i < 200 && !p.out().includes('trace done'); i++) await new Promise((r) => setTimeout(r, 50));
      const lines = p.out().trim().split('\n');
      expect(lines[0]).toMatch(
        /proxy http:\/\/127\.0\.0\.1:\d+ -> 127\.0\.0\.1:9 {2}up 6\.8 Mbit\/s, down 20 Mbit\/s, RTT 40 ms/,
      );
      expect(lines[1]).toMatch(/step 0 at \d+ ms \(start\): up 12\.8 Mbit\/s, down 50 Mbit\/s, RTT 10 ms, jitter 2 ms/);
      expect(lines[2]).toMatch(/step 1 at 1\d\d ms \(far\): up 12\.8 Mbit\/s, down 50 Mbit\/s, RTT 150 ms/);
      p.child.kill('SIGTERM');
      const [code] = await p.exit;
      expect(code).toBe(0);
      expect(p.out()).toMatch(/closed: 0 connections/);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('rejects a bad trace with its code and exit status 1', async () => {
    const trace = join(dir, 'bad.json');
    writeFileSync(trace, JSON.stringify([{ atMs: 0, conditions: '6g' }]));
    const p = run(['proxy', '--target', '127.0.0.1:9', '--trace', trace]);
    const [code] = await p.exit;
    expect(code).toBe(1);
    expect(p.err()).toMatch(/^JMDC_ERR_NETEM_TRACE_INVALID: step 0: unknown network profile '6g'/);
  });

  it('rejects a missing target with usage and exit status 2', async () => {
    const p = run(['proxy', '--profile', 'lte']);
    const [code] = await p.exit;
    expect(code).toBe(2);
    expect(p.err()).toContain('--target HOST:PORT is required');
  });
});
