/**
 * An envconfig profile (TOML file + TEMPORAL_PROFILE, as the Temporal CLI reads them) becomes thaw's connection:
 * address, namespace, TLS files and API key through @temporalio/envconfig, and a real dev server reached through a
 * profile alone (no TEMPORAL_ADDRESS).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startPipeline } from '../app/client/start';
import { loadPipeline } from '../lib/pipeline/load';
import { clusterFromEnv } from '../app/server/connection';
import { connectClient, runCli, tempDir, writePipeline } from './e2e-harness';
import { startTestServer } from './helpers/temporal';

function writeProfiles(dir: string, profiles: string): string {
  const file = path.join(dir, 'temporal.toml');
  writeFileSync(file, profiles);
  return file;
}

test('a TOML profile with TLS files and an API key becomes the connection options; TEMPORAL_ADDRESS still wins over its address', () => {
  const dir = tempDir('profile-tls');
  for (const [name, text] of [['client.pem', 'CLIENT CERT'], ['client.key', 'CLIENT KEY'], ['ca.pem', 'SERVER CA']]) writeFileSync(path.join(dir, name), text);
  const file = writeProfiles(dir, `[profile.lab]
address = "temporal.lab.example:7233"
namespace = "research"
api_key = "secret-key"

[profile.lab.tls]
client_cert_path = "${path.join(dir, 'client.pem')}"
client_key_path = "${path.join(dir, 'client.key')}"
server_ca_cert_path = "${path.join(dir, 'ca.pem')}"
server_name = "temporal.lab.example"
`);
  const cluster = clusterFromEnv({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'lab' });
  assert.ok(cluster);
  assert.equal(cluster.connectionOptions.address, 'temporal.lab.example:7233');
  assert.equal(cluster.namespace, 'research');
  assert.equal(cluster.connectionOptions.apiKey, 'secret-key');
  const tls = cluster.connectionOptions.tls;
  assert.ok(tls && typeof tls === 'object');
  assert.equal(Buffer.from(tls.clientCertPair!.crt).toString(), 'CLIENT CERT');
  assert.equal(Buffer.from(tls.clientCertPair!.key).toString(), 'CLIENT KEY');
  assert.equal(Buffer.from(tls.serverRootCACertificate!).toString(), 'SERVER CA');
  assert.equal(tls.serverNameOverride, 'temporal.lab.example');
  assert.equal(cluster.description, 'temporal.lab.example:7233 (namespace research, TLS, API key)');

  const overridden = clusterFromEnv({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'lab', TEMPORAL_ADDRESS: '127.0.0.1:1' });
  assert.equal(overridden?.connectionOptions.address, '127.0.0.1:1');
  assert.equal(overridden?.namespace, 'research');
});

test('thaw list through a profile alone reaches the profile\'s server and namespace', { timeout: 180_000 }, async (t) => {
  const server = await startTestServer(t, { namespace: 'research' });
  const dir = tempDir('profile-list');
  const plan = await loadPipeline(writePipeline(dir, 'profiled', '  - {name: only, iterations: 2}\n'));
  const { client, close } = await connectClient(server);
  t.after(close);
  const { workflowId } = await startPipeline(client, plan); // no worker: it just waits, listed as running
  const file = writeProfiles(dir, `[profile.lab]\naddress = "${server.address}"\nnamespace = "research"\n`);

  const listed = await runCli(['list', '--json'], { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'lab', TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' });
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ workflowId: string }>).map((r) => r.workflowId), [workflowId]);

  // The same server in the default namespace has no such run: the profile's namespace is what was used.
  const elsewhere = writeProfiles(dir, `[profile.lab]\naddress = "${server.address}"\n`);
  const other = await runCli(['list', '--json'], { TEMPORAL_CONFIG_FILE: elsewhere, TEMPORAL_PROFILE: 'lab', TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' });
  assert.equal(other.code, 0, other.stdout + other.stderr);
  assert.deepEqual(JSON.parse(other.stdout), []);
});
