/**
 * thaw as a package, the way a team adopts it: `npm pack` (the working tree as a clone would have it, built by
 * prepack), a fresh project that installs the tarball with npm's defaults (nothing may download: the install fails
 * if any install script tries), `npx thaw setup` there (the cached Python venv, the native binding built in that
 * project), then the README's plugin example pasted as it is, with the project's own Worker.create and client: a
 * two-stage pipeline completes on a Temporal dev server and TensorFlow lists its checkpoints. Also `npx thaw --help`
 * and `npx thaw check` from that project.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runPython, REPO_ROOT } from './helpers/python';
import { startTestServer } from './helpers/temporal';
import { tempDir } from './helpers/training';

const exec = promisify(execFile);

/** The README's plugin example: the first ```js block after its "Hosting thaw" heading, verbatim. */
function readmeExample(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Hosting thaw in your own Temporal workers'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'the README has a js example under "Hosting thaw in your own Temporal workers"');
  return match[1];
}

/** The working tree as `git clone` would give it (tracked and new files, nothing ignored), for npm pack. */
function copyWorkingTree(to: string): void {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    try {
      cpSync(path.join(REPO_ROOT, file), path.join(to, file));
    } catch {
      // listed but deleted in the working tree
    }
  }
  // prepack builds with the clone's own toolchain (typescript), as `npm ci && npm pack` would.
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(to, 'node_modules'));
}

const PIPELINE = `name: consumer
model_dir: ./run
network: {name: toynet, params: {hidden_features: 4}}
data: {kind: synthetic, task: A, spatial_size: [16, 16]}
defaults: {batch_size: 2, save_every_n: 2}
stages:
  - {name: pretrain, iterations: 3}
  - {name: head, iterations: 2, data: {task: B}, vars_to_freeze: '^((?!conv_output).)*$'}
`;

/** Ahead-of-time bundling of thaw's workflows from the installed package, then a run on that bundle. */
const BUNDLED = `import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createRequire } from 'node:module';
import { thawPlugin } from 'thaw/plugin';
import { startPipeline } from 'thaw/client';

const require = createRequire(import.meta.url);
const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('thaw/workflows'), logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} } });
const address = process.env.TEMPORAL_ADDRESS;
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({ connection, taskQueue: 'bundled-cpu', plugins: [thawPlugin({ workflowBundle: bundle })] });
const trainer = await Worker.create({ connection, taskQueue: 'bundled-gpu', plugins: [thawPlugin({ workflows: false })] });
const client = new Client({ connection: await Connection.connect({ address }) });
const { handle } = await startPipeline(client, process.argv[2], { options: { cpuTaskQueue: 'bundled-cpu', gpuTaskQueue: 'bundled-gpu' } });
const result = await worker.runUntil(trainer.runUntil(handle.result()));
console.log(\`bundled \${bundle.code.length} bytes of workflow code; \${result.stages[0].stage} done at \${result.stages[0].endIteration}\`);
await connection.close();
`;

test('a fresh project installs the packed tarball offline, sets up, and runs the README plugin example to the end', { timeout: 900_000 }, async (t) => {
  const work = tempDir('package');
  const source = path.join(work, 'thaw');
  const project = path.join(work, 'project');
  copyWorkingTree(source);
  const timings: Record<string, number> = {};
  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      timings[what] = (Date.now() - t0) / 1000;
    }
  };

  // The dev server for the runs at the end starts while npm packs.
  const [server] = await Promise.all([
    startTestServer(t),
    timed('pack', () => exec('npm', ['pack', '--pack-destination', work], { cwd: source, maxBuffer: 64 << 20 })),
  ]);
  const tarball = readdirSync(work).find((f) => /^thaw-.*\.tgz$/.test(f));
  assert.ok(tarball, 'npm pack made a tarball');
  const listing = execFileSync('tar', ['tzf', path.join(work, tarball)], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('package/dist/plugin.js') && listing.includes('package/dist/plugin.d.ts'), 'compiled JS with declarations');
  assert.ok(listing.includes('package/CHANGELOG.md') && listing.includes('package/scripts/setup-venv.sh'));
  assert.ok(!listing.some((f) => f.startsWith('package/test/') || f.startsWith('package/lib/') || f.endsWith('.ts') && !f.endsWith('.d.ts')),
    'no sources or tests in the package');

  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'team-project', version: '1.0.0', private: true }, null, 2));
  // npm's defaults (install scripts run): this fails if anything thaw depends on downloads at install.
  await timed('npm install', () => exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, tarball),
    '@temporalio/worker@1.24.0', '@temporalio/client@1.24.0'], { cwd: project, maxBuffer: 64 << 20 }));
  const npx = (...args: string[]) => exec('npx', ['--no-install', 'thaw', ...args], { cwd: project, maxBuffer: 64 << 20 });

  // Before setup: the native backend is missing, and the message says what to run.
  const before = await exec(process.execPath, ['-e', 'require("@tensorflow/tfjs-node")'], { cwd: project }).catch((e: Error) => e);
  assert.ok(before instanceof Error, 'the native binding is not installed by npm install');

  const setup = await timed('thaw setup', () => npx('setup'));
  assert.match(setup.stdout, /\[setup\] done in \d+ s: Temporal CLI .*temporal.*; native backend loads/);
  const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(manifest.allowScripts?.['@tensorflow/tfjs-node'], false, 'later installs will not run the download script');

  writeFileSync(path.join(project, 'pipeline.yaml'), PIPELINE);
  const [help, version, check] = await Promise.all([npx('--help'), npx('--version'), npx('check', 'pipeline.yaml')]);
  assert.match(help.stdout, /thaw setup\s+install TensorFlow/);
  const manifestVersion = (JSON.parse(readFileSync(path.join(source, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(version.stdout, `thaw ${manifestVersion}\n`, 'the installed package finds its own package.json from dist/');
  assert.match(check.stdout, /pipeline\.yaml: runnable \(2 stages, 0 warnings\)/);

  writeFileSync(path.join(project, 'run-pipeline.mjs'), readmeExample());
  // A team that bundles workflow code ahead of time finds thaw's workflows in the installed package. Its run (own
  // task queues, pipeline and model_dir) goes beside the README example's, on the same server.
  writeFileSync(path.join(project, 'bundled.mjs'), BUNDLED);
  writeFileSync(path.join(project, 'one.yaml'), PIPELINE.replace('name: consumer', 'name: bundled').replace('./run', './run-bundled')
    .replace(/\n {2}- \{name: head.*\n/, '\n'));
  const [run, bundled] = await Promise.all([
    timed('example run', () => exec(process.execPath, ['run-pipeline.mjs', 'pipeline.yaml'], {
      cwd: project, env: { ...process.env, TEMPORAL_ADDRESS: server.address }, timeout: 300_000, maxBuffer: 64 << 20,
    })),
    timed('bundled run', () => exec(process.execPath, ['bundled.mjs', 'one.yaml'], {
      cwd: project, env: { ...process.env, TEMPORAL_ADDRESS: server.address }, timeout: 300_000, maxBuffer: 64 << 20,
    })),
  ]);
  const modelDir = path.join(project, 'run');
  assert.match(run.stdout, new RegExp(`pretrain: iterations 0→3, loss [\\d.]+, ${path.join(modelDir, 'models', 'model.ckpt-3')}`));
  assert.match(run.stdout, new RegExp(`head: iterations 3→5, loss [\\d.]+, ${path.join(modelDir, 'models', 'model.ckpt-5')}`));
  assert.match(bundled.stdout, /bundled \d+ bytes of workflow code; pretrain done at 3/);

  const spec = path.join(work, 'spec.json');
  writeFileSync(spec, JSON.stringify({ prefixes: [path.join(modelDir, 'models', 'model.ckpt-5')], latest: [path.join(modelDir, 'models')] }));
  const tf = JSON.parse(await runPython('ckpt_tf_read.py', [spec])) as { dumps: Record<string, { variables: Array<{ name: string }> }>; latest: Record<string, string> };
  const names = tf.dumps[path.join(modelDir, 'models', 'model.ckpt-5')].variables.map((v) => v.name);
  assert.ok(names.includes('ToyNet/conv_output_bn/conv_/w/Adam') && names.includes('ApplyGradients/beta1_power'), names.join(' '));
  assert.equal(tf.latest[path.join(modelDir, 'models')], path.join(modelDir, 'models', 'model.ckpt-5'));
  console.log(`# package timings (s): ${JSON.stringify(timings)}`);
});
