/** The folder of thaw's package.json, whether running from sources (lib/) or from the build (dist/lib/). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'thaw') return dir;
    if (path.dirname(dir) === dir) throw new Error(`thaw's package.json not found above ${start}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(__dirname);
