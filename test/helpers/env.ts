/** Environment variables for the length of one test. */
import type { TestContext } from 'node:test';

/** Sets (undefined: unsets) environment variables of this process until test `t` ends. */
export function setEnv(t: TestContext, vars: Record<string, string | undefined>): void {
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  apply(vars);
  t.after(() => apply(saved));
}
