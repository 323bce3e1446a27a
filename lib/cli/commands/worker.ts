/** `thaw worker`: a long-running worker process for the thaw task queues; SIGTERM checkpoints running stages first. */
import { openCluster } from '../../client/cluster';
import { installTemporalLogLevel, startThawWorkers, type QueueRole } from '../../../worker';
import { deviceIds } from '../../training/devices';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const workerCommand: Command = {
  name: 'worker',
  usage: 'worker [--queues cpu,gpu] [--concurrency N | --gpus N] [--shutdown-timeout SECONDS]',
  summary: 'serve thaw task queues (cpu: workflows + preflight, gpu: training) until SIGTERM',
  async run(args) {
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
        activities: devices ? { devices } : undefined,
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
