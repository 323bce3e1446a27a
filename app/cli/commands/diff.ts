/** `thaw diff`: compare two checkpoints variable by variable; exit 0 only when they are identical. */
import { diffCheckpoints, type DiffReport, type VariableDiff } from '../../../lib/checkpoint';
import { Storages } from '../../../lib/storage';
import { parseCommandArgs, UsageError, type Command } from '../command';
import { formatTable } from '../../../lib/util/text-table';

const describe = (side?: { dtype: string; shape: number[] }) => (side ? `${side.dtype}[${side.shape.join(', ')}]` : '');

function detail(v: VariableDiff): string {
  switch (v.status) {
    case 'changed':
      return v.maxAbsDiff === null || v.maxAbsDiff === undefined ? 'contents differ' : `max |a-b| = ${v.maxAbsDiff.toPrecision(6)}`;
    case 'mismatch':
      return `${describe(v.a)} vs ${describe(v.b)}`;
    case 'onlyA':
      return describe(v.a);
    case 'onlyB':
      return describe(v.b);
    default:
      return '';
  }
}

const LABELS: Record<VariableDiff['status'], string> = {
  same: 'same', changed: 'changed', onlyA: 'only in A', onlyB: 'only in B', mismatch: 'dtype/shape differs',
};

function humanReport(r: DiffReport): string {
  const differing = r.variables.filter((v) => v.status !== 'same');
  const lines = [`A: ${r.a}`, `B: ${r.b}`];
  if (differing.length > 0) {
    lines.push('', formatTable(['name', 'status', 'detail'], differing.map((v) => [v.name, LABELS[v.status], detail(v)])));
  }
  const c = r.counts;
  lines.push('', `${r.identical ? 'identical' : 'different'}: ${c.same} same, ${c.changed} changed, ${c.onlyA} only in A, ` +
    `${c.onlyB} only in B, ${c.mismatch} dtype/shape differs`);
  return lines.join('\n');
}

export const diffCommand: Command = {
  name: 'diff',
  usage: 'diff <ckptA> <ckptB> [--json]',
  summary: 'compare two checkpoints per variable (exit 0 only when identical)',
  flags: [['--json', 'print the per-variable report as JSON']],
  details: 'Each checkpoint is a prefix (model_dir/models/model.ckpt-100), a models/ folder or a model_dir (then its latest). Exit 0 identical, 1 different or unreadable, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean', default: false } });
    if (positionals.length !== 2) throw new UsageError('expected two checkpoints (prefix, models/ folder or model_dir)');
    const report = await diffCheckpoints(positionals[0], positionals[1], { storages: new Storages(settings.storage) });
    console.log(values.json ? JSON.stringify(report, null, 2) : humanReport(report));
    return report.identical ? 0 : 1;
  },
};
