/**
 * `thaw check <pipeline.yaml>`: schema, regexes and preflight, with a per-stage table of what each stage restores,
 * initialises, freezes and trains (what the seed's "check your regex in RegEx101" advice becomes).
 * Exit 0 when the pipeline can run, 1 when not, 2 on usage errors.
 */
import { describeUserError } from '../../../lib/errors';
import { loadPipelineSource } from '../../../lib/pipeline/load';
import { formatProblem, PipelineError, type PipelineProblem } from '../../../lib/pipeline/problems';
import { checkPlan, type PreflightReport, type StageReport } from '../../../lib/selection/preflight';
import { plural, type Problem } from '../../../lib/selection/problems';
import { Storages } from '../../../lib/storage';
import { parseCommandArgs, UsageError, type Command } from '../command';
import { formatTable } from '../../../lib/util/text-table';

/** A pipeline that does not parse, as a report: the schema problems are its errors. */
function schemaReport(err: PipelineError): PreflightReport {
  const listed = err.problems.length > 0;
  const problems: PipelineProblem[] = listed ? err.problems : [{ file: '', field: '', message: err.message }];
  const errors = problems.map((p): Problem => ({
    code: 'PipelineError',
    field: p.field,
    ...(p.line === undefined ? {} : { line: p.line, column: p.column ?? 1 }),
    variables: [],
    message: listed ? formatProblem(p) : describeUserError(err),
    fix: listed ? 'edit the pipeline file as the message says' : (err.details.fix ?? 'edit the pipeline file as the message says'),
  }));
  return { ok: false, errors, warnings: [], stages: [] };
}

function stageTable(stages: StageReport[]): string {
  const rows = stages.map((s) => [
    s.name,
    s.after ?? '-',
    `${s.startIteration}→${s.endIteration}`,
    String(s.selection.restored.length),
    String(s.selection.initialised.length),
    String(s.selection.frozen.length),
    String(s.selection.trained.length),
    String(s.selection.slotsInitialised.length),
    String(s.carried.length),
  ]);
  const header = ['stage', 'after', 'iterations', 'restored', 'initialised', 'frozen', 'trained', 'slots initialised', 'carried'];
  return formatTable(header, rows, [false, false, false, true, true, true, true, true, true]);
}

function stageDetails(s: StageReport): string {
  const from = s.restoreFrom ?? 'scratch';
  const rows = s.variables.map((v) => [v.name, `[${v.shape.join(', ')}]`, v.dtype, v.fate]);
  for (const name of s.carried) rows.push([name, '', '', 'carried unchanged']);
  return `stage ${s.name} (iterations ${s.startIteration}→${s.endIteration}, from ${from}):\n${formatTable(['variable', 'shape', 'dtype', 'fate'], rows)}`;
}

/** What the table's columns mean, once, where a stage carries variables (the column is new to NiftyNet users). */
function carriedNote(stages: StageReport[]): string | null {
  if (!stages.some((s) => s.carried.length > 0)) return null;
  return 'carried: variables of the starting checkpoint that a stage neither trains nor uses (e.g. optimizer slots of frozen variables), written into its checkpoints unchanged';
}

function slotsNote(s: StageReport): string | null {
  const n = s.selection.slotsInitialised.length;
  if (n === 0) return null;
  return `stage ${s.name}: ${plural(n, 'optimizer slot')} initialised to zero because the checkpoint it starts from has none (their variables were frozen there)`;
}

export function formatReport(file: string, report: PreflightReport, verbose: boolean): string {
  const out: string[] = [];
  if (report.stages.length > 0) out.push(stageTable(report.stages));
  out.push(...[carriedNote(report.stages), ...report.stages.map(slotsNote)].filter((n): n is string => n !== null));
  if (verbose) out.push(...report.stages.map(stageDetails));
  for (const w of report.warnings) out.push(`warning: ${w.message}`);
  for (const e of report.errors) out.push(`error: ${e.message}`);
  out.push(
    report.ok
      ? `${file}: runnable (${plural(report.stages.length, 'stage')}, ${plural(report.warnings.length, 'warning')})`
      : `${file}: NOT runnable (${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')})`,
  );
  return out.join('\n\n');
}

export const checkCommand: Command = {
  name: 'check',
  usage: 'check <pipeline.yaml> [--json] [--verbose]',
  summary: 'check a pipeline: schema, regexes, and what every stage restores, initialises, freezes and trains',
  flags: [
    ['--json', 'print the report (errors, warnings, per-stage selection) as JSON'],
    ['--verbose, -v', 'also list every variable of every stage with its fate'],
  ],
  details: 'Reads the pipeline and the checkpoints it starts from; trains nothing, starts no server. Exit 0 runnable, 1 not runnable, 2 usage.',
  async run(args, settings) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one pipeline YAML file');
    const file = positionals[0];
    let report: PreflightReport;
    try {
      const { plan, locate } = await loadPipelineSource(file);
      report = await checkPlan(plan, { locate, storages: new Storages(settings.storage) });
    } catch (err) {
      if (!(err instanceof PipelineError)) throw err;
      report = schemaReport(err);
    }
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(file, report, values.verbose));
    return report.ok ? 0 : 1;
  },
};
