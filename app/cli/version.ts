/**
 * thaw's own package.json, read from the package root (lib/ in a clone, dist/lib/ in an installed package: both
 * find it through PACKAGE_ROOT), for `thaw --version` and `thaw setup`'s pinned peer dependency.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/util/package-root';

export interface ThawManifest {
  version: string;
  peerDependencies?: Record<string, string>;
}

export function thawManifest(root: string = PACKAGE_ROOT): ThawManifest {
  return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as ThawManifest;
}

export function thawVersion(root: string = PACKAGE_ROOT): string {
  return thawManifest(root).version;
}
