/**
 * `npm run local-cloud` as a process: flags, the URL line, the endpoints file, one log line per
 * invocation, and a clean stop on SIGTERM that takes its instances with it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatInvocation, parseCliArgs, UsageError } from './cliArgs.js';
import { PROBE_HANDLER, writeFakeAssembly } from './fakeAssembly.js';

const CLI = join(import.meta.dirname, 'cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'jmdc-lc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseCliArgs', () => {
  it('defaults to port 18790 and .jmdc/endpoints.json, and reads every flag', () => {
    const d = parseCliArgs([]).options;
    expect(d.port).toBe(18790);
    expect(d.endpointsFile).toMatch(/\.jmdc\/endpoints\.json$/);
    const c = parseCliArgs([
      '--points',
      '0,2',
      '--port',
      '0',
      '--idle-timeout-ms',
      '500',
      '--max-instances',
      '3',
      '--no-endpoints-file',
      '--json',
    ]);
    expect(c.options).toMatchObject({ points: [0, 2], port: 0, idleTimeoutMs: 500, maxInstancesPerFunction: 3 });
    expect(c.options.endpointsFile).toBeUndefined();
    expect(c.json).toBe(true);
  });

  it('rejects bad flags with a UsageError', () => {
    expect(() => parseCliArgs(['--port', '70000'])).toThrow(UsageError);
    expect(() => parseCliArgs(['--points', '1,x'])).toThrow(UsageError);
    expect(() => parseCliArgs(['--access-key-id', 'k'])).toThrow(UsageError);
    expect(() => parseCliArgs(['--nope'])).toThrow(UsageError);
  });

  it('formats one line per invocation', () => {
    const line = formatInvocation(
      {
        functionName: 'F',
        point: 2,
        instanceId: 'p2-1',
        cold: true,
        initMs: 412.25,
        durationMs: 520.06,
        status: 200,
        route: 'url',
      },
      new Date('2026-01-01T10:31:02.114Z'),
    );
    expect(line).toBe('10:31:02.114 F p2-1 cold init=412.3ms dur=520.1ms 200 url');
  });
});

describe('the CLI process', () => {
  it('serves, logs each invocation, writes the endpoints file, and stops on SIGTERM', async () => {
    writeFakeAssembly(join(dir, 'asm'), [{ logicalId: 'Open', point: 0, code: PROBE_HANDLER, authType: 'NONE' }]);
    const endpointsFile = join(dir, 'endpoints.json');
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        CLI,
        '--assembly',
        join(dir, 'asm'),
        '--port',
        '0',
        '--endpoints-file',
        endpointsFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const waitFor = (re: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const check = () => {
            const m = out.split('\n').find((l) => re.test(l));
            if (m) resolve(m);
          };
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            check();
          });
          child.on('exit', (code) => reject(new Error(`cli exited ${code}: ${err}`)));
          check();
        });
      const { url } = JSON.parse(await waitFor(/^\{"url"/));
      const file = JSON.parse(readFileSync(endpointsFile, 'utf8'));
      expect(file.points['0']).toEqual({ url: `${url}/points/0`, functionName: 'Fake-Open' });
      const r = await fetch(`${url}/points/0`, {
        method: 'POST',
        body: '{"echo":1}',
        headers: { 'content-type': 'application/json' },
      });
      const body = (await r.json()) as { pid: number; coldStart: boolean };
      expect(body.coldStart).toBe(true);
      const line = await waitFor(/ Fake-Open /);
      expect(line).toMatch(/ Fake-Open p0-\S+ cold init=[\d.]+ms dur=[\d.]+ms 200 url$/);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toMatch(/stopped: 1 invocations, 1 cold starts/);
      expect(() => process.kill(body.pid, 0)).toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
