#!/usr/bin/env node
/**
 * The CDK app: `npm run synth -w @jmdc/cdk` / `npm run deploy -w @jmdc/cdk`, with context
 * `-c model=<folder|id> -c points=0,1,2 -c memory=2048` (or `-c memory='{"0":3008}'`, or `-c config=file.json`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { stackPropsFromContext } from '../lib/context.js';
import { JmdcStack } from '../lib/jmdc-stack.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = new App();
const props = stackPropsFromContext((key) => app.node.tryGetContext(key), repoRoot);
new JmdcStack(app, props.stackName, {
  ...props,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
