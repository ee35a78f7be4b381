#!/usr/bin/env node
/**
 * `npm run endpoints -w @jmdc/cdk -- [outputs.json] [endpoints.json] [stackName]`: converts the output of
 * `cdk deploy --outputs-file` to the endpoints file the edge SDK reads (default `.jmdc/endpoints.json`
 * at the repository root).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENDPOINTS_FILE, writeEndpointsFile } from '../lib/endpoints.js';

const cdkDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const [outputs, endpoints, stackName] = process.argv.slice(2);
const target = resolve(endpoints ?? join(cdkDir, '..', DEFAULT_ENDPOINTS_FILE));
const written = writeEndpointsFile(resolve(outputs ?? join(cdkDir, 'cdk.out', 'outputs.json')), target, stackName);
console.log(`wrote ${target}: points ${Object.keys(written.points).join(', ')} of ${written.model}`);
