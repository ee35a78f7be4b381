/**
 * Builds the package-lock.json of an app that depends only on a packed `@jmdc/edge-sdk` tarball, from
 * the repository's own lockfile: the SDK's production dependencies and their transitive closure, at
 * the versions (and the hoisted layout) the repository pins. With it, `npm ci --offline` installs the
 * app from the npm cache alone: npm 11 asks the registry for full package documents when it resolves
 * without a lockfile, and the cache holds only the tarballs and abbreviated documents.
 */

interface LockEntry {
  version?: string;
  integrity?: string;
  resolved?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [k: string]: unknown;
}

export interface Lockfile {
  name: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** Where Node would find `name` from the package at `from` (a lockfile location), hoisting upwards. */
function locate(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const at = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[at] && !packages[at].link) return at;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i >= 0 ? base.slice(0, i) : '';
  }
}

/**
 * The app's lockfile. `sdk` is the packed package.json; `tarball` the path of the tarball relative to
 * the app folder; `integrity` its sha512 SRI. Throws when a dependency is missing from the root lock.
 *
 * @example
 * writeFileSync('app/package-lock.json', JSON.stringify(appLockfile(rootLock, sdkPkg, '../x.tgz', sri)))
 */
export function appLockfile(
  root: Lockfile,
  sdk: {
    name: string;
    version: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  },
  tarball: string,
  integrity: string,
  appName = 'jmdc-packed-app',
): Lockfile {
  const src = root.packages;
  const out: Record<string, LockEntry> = {
    '': { name: appName, version: '1.0.0', dependencies: { [sdk.name]: `file:${tarball}` } },
    [`node_modules/${sdk.name}`]: {
      version: sdk.version,
      resolved: `file:${tarball}`,
      integrity,
      ...(sdk.dependencies ? { dependencies: sdk.dependencies } : {}),
      ...(sdk.peerDependencies ? { peerDependencies: sdk.peerDependencies } : {}),
      ...(sdk.peerDependenciesMeta ? { peerDependenciesMeta: sdk.peerDependenciesMeta } : {}),
    },
  };
  // the SDK sits at the root's top level in the app; its dependencies resolve from the root's top level
  const queue: Array<[string, Record<string, string>]> = [['', sdk.dependencies ?? {}]];
  while (queue.length > 0) {
    const [from, deps] = queue.shift() as [string, Record<string, string>];
    for (const name of Object.keys(deps)) {
      const at = locate(src, from, name);
      if (!at) throw new Error(`${name} (needed by ${from || sdk.name}) is not in the repository's lockfile`);
      if (out[at]) continue;
      const entry = { ...(src[at] as LockEntry) };
      delete entry.dev;
      delete entry.devOptional;
      delete entry.peer;
      out[at] = entry;
      const next: Record<string, string> = { ...(entry.dependencies ?? {}) };
      for (const [n, r] of Object.entries(entry.optionalDependencies ?? {})) {
        if (locate(src, at, n)) next[n] = r;
      }
      for (const [n, r] of Object.entries(entry.peerDependencies ?? {})) {
        if (!entry.peerDependenciesMeta?.[n]?.optional) next[n] = r;
      }
      queue.push([at, next]);
    }
  }
  return { name: appName, lockfileVersion: 3, requires: true, packages: out };
}
