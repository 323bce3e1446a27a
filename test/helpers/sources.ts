/** The project's own TypeScript sources, for tests that read the code itself (layers, errors, settings reads). */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './python';

/** Every .ts file under `dir` (relative to the repository root), as repository-relative posix paths. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir)).flatMap((name) => {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(REPO_ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return name.endsWith('.ts') ? [rel] : [];
  });
}
