/** CDK context parsing and the endpoints file conversion (no synth). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePerPoint, parsePoints, resolveModel, stackPropsFromContext } from '../lib/context.js';
import { endpointsFromOutputs, writeEndpointsFile } from '../lib/endpoints.js';

const REPO = join(import.meta.dirname, '..', '..');
const TINY = 'test/fixtures/models/tiny-vgg11';

describe('CDK context', () => {
  it('parses points as a list or JSON', () => {
    expect(parsePoints('0,1, 2')).toEqual([0, 1, 2]);
    expect(parsePoints('[3,4]')).toEqual([3, 4]);
    expect(parsePoints([5])).toEqual([5]);
    expect(parsePoints(undefined)).toBeUndefined();
    expect(() => parsePoints('1,x')).toThrow('points must be an integer');
  });

  it('parses a memory size for all points or per point', () => {
    expect(parsePerPoint('2048', 'memory')).toBe(2048);
    expect(parsePerPoint('{"0":3008,"2":1024}', 'memory')).toEqual({ 0: 3008, 2: 1024 });
    expect(() => parsePerPoint('{"0":"big"}', 'memory')).toThrow('memory[0] must be an integer');
    expect(() => parsePerPoint('{nope', 'memory')).toThrow('not valid JSON');
  });

  it('finds a model by folder (relative to cdk/ or the repository) and fails with a hint otherwise', () => {
    expect(resolveModel(TINY, REPO)).toBe(join(REPO, TINY));
    expect(() => resolveModel('no-such-model', REPO)).toThrow('-c model=');
  });

  it('turns -c keys (and a config file under them) into stack props', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-ctx-'));
    try {
      const config = join(dir, 'c.json');
      writeFileSync(
        config,
        JSON.stringify({ points: [0, 1], memory: { 0: 3008 }, timeout: 20, stackName: 'FromFile' }),
      );
      const ctx: Record<string, unknown> = { config, model: TINY, memory: '1024', architecture: 'x86_64' };
      const props = stackPropsFromContext((k) => ctx[k], REPO);
      expect(props).toMatchObject({ stackName: 'FromFile', points: [0, 1], memorySize: 1024 });
      expect(props.timeout?.toSeconds()).toBe(20);
      expect(props.architecture?.name).toBe('x86_64');
      expect(() => stackPropsFromContext((k) => ({ model: TINY, architecture: 'mips' })[k], REPO)).toThrow(
        'architecture',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('endpoints file', () => {
  const outputs = {
    Jmdc: {
      Endpoints: JSON.stringify({
        '0': { url: 'https://a.lambda-url.eu-west-1.on.aws/', functionName: 'Jmdc-Point0-abc' },
        '2': { url: 'https://b.lambda-url.eu-west-1.on.aws/', functionName: 'Jmdc-Point2-def:live' },
      }),
      ModelId: 'fmnist-vgg16',
      ModelHash: `sha256:${'a'.repeat(64)}`,
      Region: 'eu-west-1',
    },
  };

  it('converts cdk deploy --outputs-file output to { model, modelHash, region, points }', () => {
    expect(endpointsFromOutputs(outputs)).toEqual({
      model: 'fmnist-vgg16',
      modelHash: `sha256:${'a'.repeat(64)}`,
      region: 'eu-west-1',
      points: {
        '0': { url: 'https://a.lambda-url.eu-west-1.on.aws/', functionName: 'Jmdc-Point0-abc' },
        '2': { url: 'https://b.lambda-url.eu-west-1.on.aws/', functionName: 'Jmdc-Point2-def:live' },
      },
    });
  });

  it('asks which stack when there are several, and fails without an Endpoints output', () => {
    expect(() => endpointsFromOutputs({ ...outputs, Other: outputs.Jmdc })).toThrow('cannot tell which stack');
    expect(endpointsFromOutputs({ ...outputs, Other: outputs.Jmdc }, 'Other').model).toBe('fmnist-vgg16');
    expect(() => endpointsFromOutputs({ Jmdc: {} }, 'Jmdc')).toThrow('no Endpoints output');
  });

  it('writes the file, creating its folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jmdc-endpoints-'));
    try {
      writeFileSync(join(dir, 'outputs.json'), JSON.stringify(outputs));
      writeEndpointsFile(join(dir, 'outputs.json'), join(dir, 'sub', 'endpoints.json'));
      expect(JSON.parse(readFileSync(join(dir, 'sub', 'endpoints.json'), 'utf8')).points['2'].functionName).toBe(
        'Jmdc-Point2-def:live',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
