/**
 * The fuzz of `thaw check` at scale (test/check-fuzz.test.ts runs a few hundred cases in CI): pipelines drawn from
 * schemas/pipeline.schema.json and mutated (test/helpers/pipeline-fuzz.ts), each run through the CLI's dispatcher in
 * this process. Prints the outcomes by exit code and first error code, the slowest cases, and every fault (exit 70,
 * a stack trace, a case over the bound); exits 1 when there is any.
 *
 *   npx tsx bench/check-fuzz.ts [--cases 1000] [--seed 1] [--bound-ms 5000]
 *
 * Outcomes are counted by exit code and the code of the first error (`exit 1 PatternError`; a case checked as text
 * is run again with --json for it). `exit 2 usage` are the cases given a bad flag.
 */
import { parseArgs } from 'node:util';
import { fuzzCase, fuzzSetup, runFuzzCase, type FuzzOutcome } from '../test/helpers/pipeline-fuzz';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'bound-ms': { type: 'string', default: '5000' },
  },
});
const cases = Number(values.cases);
const seed = Number(values.seed);
const boundMs = Number(values['bound-ms']);

async function run(): Promise<void> {
  const env = await fuzzSetup();
  const warnings: string[] = [];
  process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
  const counts = new Map<string, number>();
  const byExit = new Map<number, number>();
  const faults: string[] = [];
  const slowest: Array<FuzzOutcome & { mutations: string[] }> = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < cases; i++) {
      const c = fuzzCase(seed, i);
      const o = await runFuzzCase(env.dir, c);
      counts.set(o.label, (counts.get(o.label) ?? 0) + 1);
      byExit.set(o.code, (byExit.get(o.code) ?? 0) + 1);
      const f = [...o.faults, ...(o.ms > boundMs ? [`took ${o.ms.toFixed(0)} ms`] : [])];
      if (f.length > 0) faults.push(`case ${i} [${c.mutations.join(', ')}] ${c.flags.join(' ')}: ${f.join('; ')}\n${o.output.slice(0, 600)}`);
      slowest.push({ ...o, mutations: c.mutations });
      slowest.sort((a, b) => b.ms - a.ms);
      slowest.length = Math.min(slowest.length, 5);
    }
  } finally {
    await env.restore();
  }
  const seconds = (Date.now() - t0) / 1000;
  console.log(`thaw check fuzz: ${cases} cases, seed ${seed}, ${seconds.toFixed(1)} s (${((seconds * 1000) / cases).toFixed(1)} ms per case)`);
  console.log(`by exit code: ${[...byExit].sort(([a], [b]) => a - b).map(([k, v]) => `exit ${k}: ${v}`).join(', ')}`);
  console.log('by outcome:');
  for (const [label, n] of [...counts].sort(([, a], [, b]) => b - a)) console.log(`  ${String(n).padStart(5)}  ${label}`);
  console.log(`slowest: ${slowest.map((s) => `case ${s.index} ${s.ms.toFixed(0)} ms [${s.mutations.join(', ')}]`).join('; ')}`);
  console.log(`process warnings: ${warnings.length}${warnings.length ? `\n  ${warnings.join('\n  ')}` : ''}`);
  console.log(`faults: ${faults.length}${faults.length ? `\n${faults.join('\n\n')}` : ''}`);
  process.exitCode = faults.length > 0 || warnings.length > 0 ? 1 : 0;
}

void run();
