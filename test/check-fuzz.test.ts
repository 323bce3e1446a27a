/**
 * A bounded fuzz of `thaw check`: pipelines drawn from the JSON Schema and mutated (test/helpers/pipeline-fuzz.ts),
 * each run through the CLI's dispatcher in this process (app/cli/main.ts, its top-level error handler included, as
 * `npx thaw check` runs). None may exit 70 (internal error), print a stack trace, or take longer than the bound (a
 * hang detector, not a performance assertion). The seed is logged; THAW_FUZZ_SEED and THAW_FUZZ_CASES replay or widen
 * it; `npx tsx bench/check-fuzz.ts` runs more and counts the outcomes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fuzzCase, fuzzSetup, runFuzzCase } from './helpers/pipeline-fuzz';

const SEED = Number(process.env.THAW_FUZZ_SEED ?? 20260215);
const CASES = Number(process.env.THAW_FUZZ_CASES ?? 300);
/** Per case: generous, to catch hangs and blow-ups, not to measure. */
const BOUND_MS = 5000;

let env: Awaited<ReturnType<typeof fuzzSetup>>;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);

before(async () => {
  env = await fuzzSetup();
  process.on('warning', onWarning);
});

after(async () => {
  process.off('warning', onWarning);
  await env.restore();
});

describe(`thaw check fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  it('no internal error, no stack trace, nothing over the bound, no process warnings', { timeout: 240_000 }, async (t) => {
    t.diagnostic(`seed ${SEED}: replay with THAW_FUZZ_SEED=${SEED}`);
    const counts = new Map<string, number>();
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const c = fuzzCase(SEED, i);
      const outcome = await runFuzzCase(env.dir, c);
      counts.set(outcome.label, (counts.get(outcome.label) ?? 0) + 1);
      const faults = [...outcome.faults, ...(outcome.ms > BOUND_MS ? [`took ${outcome.ms.toFixed(0)} ms`] : [])];
      if (faults.length > 0) {
        failures.push(`case ${i} [${c.mutations.join(', ')}] ${c.flags.join(' ')}: ${faults.join('; ')}\n${outcome.output.slice(0, 800)}`);
      }
    }
    t.diagnostic([...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(', '));
    assert.deepEqual(failures, []);
    assert.deepEqual(warnings, []);
    // The generator reaches both verdicts and the usage path.
    assert.ok([...counts.keys()].some((k) => k.startsWith('exit 0')), 'no runnable case');
    assert.ok([...counts.keys()].some((k) => k.startsWith('exit 1')), 'no refused case');
  });
});
