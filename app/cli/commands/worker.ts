/** `thaw worker`: a long-running worker process for the thaw task queues; SIGTERM checkpoints running stages first. */
import { openCluster } from '../../client/cluster';
import { installTemporalLogLevel, startThawWorkers, type QueueRole } from '../../../worker';
import { deviceIds } from '../../../lib/training/devices';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const workerCommand: Command = {
  name: 'worker',
  usage: 'worker [--queues cpu,gpu] [--concurrency N | --gpus N] [--shutdown-timeout SECONDS]',
  summary: 'serve thaw task queues (cpu: workflows + preflight, gpu: training) until SIGTERM',
  flags: [
    ['--queues cpu,gpu', 'which task queues to serve: cpu (workflows, preflight, loss curve), gpu (training), or both (default)'],
    ['--concurrency N', 'trainings at once in this process (default 1)'],
    ['--gpus N', 'N trainings at once, each pinned to its own GPU through CUDA_VISIBLE_DEVICES (instead of --concurrency)'],
    ['--shutdown-timeout SECONDS', 'on SIGTERM, how long running stages get to write their checkpoint before the worker stops (default 120)'],
  ],
  details: 'Serves the cluster that TEMPORAL_ADDRESS (or TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE) names; on one machine `thaw run` needs no separate worker. Exit 0 after SIGTERM or Ctrl-C, 2 usage.',
  async run(args, settings) {
    const { values } = parseCommandArgs(args, {
      queues: { type: 'string', default: 'cpu,gpu' },
      concurrency: { type: 'string', default: '1' },
      // N trainings at once, each child pinned to its own device through CUDA_VISIBLE_DEVICES (overrides --concurrency).
      gpus: { type: 'string' },
      'shutdown-timeout': { type: 'string', default: '120' },
    });
    const queues = values.queues.split(',').map((q) => q.trim()).filter(Boolean);
    if (queues.length === 0 || queues.some((q) => q !== 'cpu' && q !== 'gpu')) throw new UsageError('--queues takes cpu, gpu or cpu,gpu');
    const concurrency = Number(values.gpus ?? values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--${values.gpus ? 'gpus' : 'concurrency'} must be an integer >= 1`);
    const devices = values.gpus ? deviceIds(concurrency) : null;
    const shutdownSeconds = Number(values['shutdown-timeout']);
    if (!(shutdownSeconds > 0)) throw new UsageError('--shutdown-timeout must be a number of seconds > 0');

    installTemporalLogLevel('WARN');
    const cluster = await openCluster();
    try {
      const running = await startThawWorkers({
        connection: await cluster.nativeConnection(),
        namespace: cluster.namespace,
        queues: queues as QueueRole[],
        concurrency,
        shutdownForceTimeMs: shutdownSeconds * 1000,
        activities: { settings, ...(devices ? { devices } : {}) },
      });
      console.log(`thaw worker (process ${process.pid}) on ${cluster.description}: queues ${running.workers.map((w) => w.options.taskQueue).join(', ')}, ${concurrency} training(s) at a time${devices ? ` on GPUs ${devices.join(', ')}` : ''}`);
      await running.done;
      console.log('thaw worker: stopped');
      return 0;
    } finally {
      await cluster.close();
    }
  },
};
