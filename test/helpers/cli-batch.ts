/**
 * Runs several `thaw` command lines one after another in this one process (app/cli/main.ts in-process) and prints
 * one JSON line per result as soon as it is done: `{"args": [...], "code": 1, "stdout": "...", "stderr": "..."}`.
 * For tests that must see a command that blocks (the test kills this process after its time limit and reports the
 * runs that never answered) without paying a process start per command. argv[2]: a JSON array of argument arrays.
 */
import { runMainInProcess } from './cli';

async function main(): Promise<void> {
  const runs = JSON.parse(process.argv[2] ?? '[]') as string[][];
  for (const args of runs) {
    const result = await runMainInProcess(args);
    process.stdout.write(`${JSON.stringify({ args, ...result })}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`cli-batch: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(99);
  },
);
