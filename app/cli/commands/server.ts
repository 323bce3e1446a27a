/** `thaw server`: one long-lived local Temporal dev server in the foreground, for people who want their own. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { announce, dbFileOf } from '../../client/cluster';
import { startDevServer } from '../../server/dev-server';
import { parseCommandArgs, UsageError, type Command } from '../command';

export const serverCommand: Command = {
  name: 'server',
  usage: 'server [--db FILE] [--port N] [--ui] [--ui-port N]',
  summary: 'run a local Temporal dev server (persistent SQLite) until Ctrl-C',
  flags: [
    ['--db FILE', 'the SQLite file that keeps runs across restarts (default .thaw/temporal.sqlite; with THAW_STATE_DIR, that folder\'s)'],
    ['--port N', 'the gRPC port (default 7233)'],
    ['--ui', 'also serve the Temporal Web UI'],
    ['--ui-port N', 'the Web UI\'s port (default the gRPC port + 1000)'],
  ],
  details: 'Other shells use it with TEMPORAL_ADDRESS=localhost:<port>. With THAW_STATE_DIR (and no --db) it is that folder\'s embedded server: a `thaw run` with the same THAW_STATE_DIR uses it without TEMPORAL_ADDRESS. Exit 0 after Ctrl-C, 2 usage.',
  async run(args, settings) {
    const { values } = parseCommandArgs(args, {
      db: { type: 'string' },
      port: { type: 'string', default: '7233' },
      ui: { type: 'boolean', default: false },
      'ui-port': { type: 'string' },
    });
    const port = Number(values.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError(`--port must be a TCP port, got "${values.port}"`);
    const uiPort = values['ui-port'] === undefined ? port + 1000 : Number(values['ui-port']);
    if (!Number.isInteger(uiPort) || uiPort <= 0 || uiPort > 65535) throw new UsageError(`--ui-port must be a TCP port, got "${values['ui-port']}"`);

    // THAW_STATE_DIR: serve (and announce, in its database's record) the folder every `thaw run` of that setting uses.
    const stateDir = values.db === undefined ? settings.state.stateDir ?? null : null;
    if (stateDir) mkdirSync(stateDir, { recursive: true });
    const dbFile = values.db ?? (stateDir ? dbFileOf(stateDir) : path.join('.thaw', 'temporal.sqlite'));
    const server = await startDevServer({ dbFile, port, ui: values.ui, uiPort, temporalCli: settings.temporalCli });
    if (stateDir) announce(stateDir, server);
    console.log(`Temporal dev server ready (${server.cli.path}, found via ${server.cli.source})`);
    console.log(`  gRPC address: ${server.address}`);
    console.log(`  Web UI:       ${server.uiUrl ?? 'off (start with --ui)'}`);
    console.log(`  database:     ${server.dbFile}`);
    console.log(`  log:          ${server.logFile}`);
    console.log(`Use it from other shells with: export TEMPORAL_ADDRESS=${server.address}`);
    if (stateDir) console.log(`  or THAW_STATE_DIR=${stateDir}: \`thaw run\` with it uses this server as its embedded one`);
    console.log('Press Ctrl-C to stop.');

    await new Promise<void>((resolve) => {
      const shutdown = () => resolve();
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
    console.log('Stopping the dev server...');
    await server.stop(); // marks the record stopped first, so no thaw run counts on it any more
    return 0;
  },
};
