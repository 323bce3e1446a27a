/**
 * The network registry: built-in networks by name, and user networks by module path.
 *
 * Plugin interface: in a pipeline, `network: { name: ./my-net.js, params: {…} }` (a name starting with `.` or `/`)
 * loads that module, resolved from the pipeline file's folder. The module exports a NetworkDefinition as
 * `default` or `network` — easiest built with `defineNetwork` from `thaw/lib/training/networks`:
 *
 *   const { defineNetwork, convBnRelu, classifier } = require('thaw/lib/training/networks');
 *   module.exports = defineNetwork({
 *     name: 'my_net', description: '…',
 *     params: { dims: { kind: 'dims', default: 2, doc: '…' }, width: { kind: 'int', default: 16, doc: '…' } },
 *     spatialMultiple: () => 1,
 *     forward: (ops, x, p) => classifier(ops, convBnRelu(ops, x, 'MyNet/conv_1', p.width), 'MyNet/out', p.num_classes),
 *   });
 *
 * The forward pass is written against LayerOps (conv, batchNorm, relu, add, concat, padChannels, maxPool, upsample),
 * so the same description lists the variables (names, shapes, trainable) without an engine and trains on any engine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors';
import { denseVNet } from './dense-vnet';
import { highres3dnet } from './highres3dnet';
import type { NetworkDefinition } from './types';
import { toynet } from './toynet';
import { unet } from './unet';

export type { CommonParams, ConvOptions, LayerOps, NetworkDefinition } from './types';
export type { VariableSpec, VariableRole } from './variable-spec';
export { bnReluConv, classifier, convBnRelu, defineNetwork } from './define';

const BUILT_IN: NetworkDefinition[] = [toynet, unet, highres3dnet, denseVNet];

export function listNetworks(): { name: string; description: string }[] {
  return BUILT_IN.map(({ name, description }) => ({ name, description }));
}

function isModulePath(name: string): boolean {
  return name.startsWith('.') || path.isAbsolute(name);
}

function isNetworkDefinition(value: unknown): value is NetworkDefinition {
  const v = value as Partial<NetworkDefinition> | undefined;
  return !!v && typeof v.variables === 'function' && typeof v.forward === 'function' &&
    typeof v.resolveParams === 'function' && typeof v.spatialMultiple === 'function';
}

function loadPlugin(name: string, baseDir: string): NetworkDefinition {
  const file = path.resolve(baseDir, name);
  if (!fs.existsSync(file)) {
    throw new UserError('UnknownNetwork', `network module ${file} does not exist`, {
      file,
      field: 'network.name',
      fix: 'give a path relative to the pipeline file, or a built-in network: ' + BUILT_IN.map((n) => n.name).join(', '),
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { default?: unknown; network?: unknown };
  const def = [mod.default, mod.network, mod].find(isNetworkDefinition);
  if (!def) {
    throw new UserError('InvalidNetworkModule', `network module ${file} exports no NetworkDefinition`, {
      file,
      field: 'network.name',
      fix: 'export (as default, `network` or module.exports) an object made with defineNetwork(...)',
    });
  }
  return def;
}

/**
 * The network called `name`: a built-in, or a plugin module path (resolved from `baseDir`, the pipeline's folder).
 * Unknown names are a UserError listing the known ones.
 */
export function getNetwork(name: string, options: { baseDir?: string } = {}): NetworkDefinition {
  if (isModulePath(name)) return loadPlugin(name, options.baseDir ?? process.cwd());
  const def = BUILT_IN.find((n) => n.name === name);
  if (!def) {
    throw new UserError('UnknownNetwork', `unknown network ${JSON.stringify(name)}`, {
      field: 'network.name',
      fix: `use one of ${BUILT_IN.map((n) => n.name).join(', ')}, or a path to a network module (./my-net.js)`,
    });
  }
  return def;
}
