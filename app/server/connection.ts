/**
 * Which Temporal cluster to talk to. With TEMPORAL_ADDRESS (or a TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE profile)
 * thaw uses that cluster with the settings @temporalio/envconfig reads (namespace, TLS client certificates, API
 * key); without, commands that need a server start the embedded dev server.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ConnectionOptions } from '@temporalio/client';

export interface ClusterSettings {
  connectionOptions: ConnectionOptions;
  namespace: string;
  /** For messages: `address (namespace ns, TLS)`. */
  description: string;
}

export function usesExternalCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.TEMPORAL_ADDRESS || env.TEMPORAL_PROFILE || env.TEMPORAL_CONFIG_FILE);
}

/** The external cluster from the environment, or null when thaw should run its own dev server. */
export function clusterFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterSettings | null {
  if (!usesExternalCluster(env)) return null;
  // An empty variable (`TEMPORAL_ADDRESS=`) is unset, as usesExternalCluster reads it; envconfig would take "" as the address.
  const set = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => Boolean(e[1])));
  const config = loadClientConnectConfig({ overrideEnvVars: set });
  const connectionOptions = config.connectionOptions as ConnectionOptions;
  const namespace = config.namespace ?? 'default';
  const address = connectionOptions.address ?? 'localhost:7233';
  const security = [connectionOptions.tls ? 'TLS' : '', connectionOptions.apiKey ? 'API key' : ''].filter(Boolean).join(', ');
  return {
    connectionOptions,
    namespace,
    description: `${address} (namespace ${namespace}${security ? `, ${security}` : ''})`,
  };
}
