/**
 * Child process of test/checkpoint-memory.test.ts: opens a checkpoint, then verifies every tensor, and prints the
 * peak resident memory before and after the verification (a process of its own, so that the peak is the reader's).
 * usage: node --import tsx test/helpers/measure-verify.ts PREFIX
 */
import { readFileSync } from 'node:fs';
import { CheckpointReader } from '../../lib/checkpoint';

/**
 * Peak resident memory of this process (Linux VmHWM). Not process.resourceUsage().maxRSS: Linux keeps that across
 * execve, so a child of a big test process would start at its parent's peak.
 */
function peakRssBytes(): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!kb) throw new Error('no VmHWM in /proc/self/status');
  return Number(kb[1]) * 1024;
}

async function main(prefix: string): Promise<void> {
  const reader = await CheckpointReader.open(prefix);
  await reader.checkShards();
  const before = peakRssBytes();
  await reader.verifyAll();
  const after = peakRssBytes();
  await reader.close();
  process.stdout.write(`${JSON.stringify({ beforeBytes: before, afterBytes: after })}\n`);
}

void main(process.argv[2]);
