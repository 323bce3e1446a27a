/**
 * The network registry: built-in networks by name, and user networks by module path.
 *
 * Plugin interface: in a pipeline, `network: { name: ./my-net.js, params: {…} }` (a name starting with `.` or `/`)
 * loads that module, resolved from the pipeline file's folder. The module exports a NetworkDefinition as
 * `default` or `network` — easiest built with `defineNetwork` and NiftyNet's composite layers:
 *
 *   const { defineNetwork, convolutionalLayer, Scope } = require('thaw/lib/training/networks');
 *   module.exports = defineNetwork({
 *     name: 'my_net', description: '…',
 *     params: { dims: { kind: 'dims', default: 2, doc: '…' }, width: { kind: 'int', default: 16, doc: '…' } },
 *     referenceSize: () => 8,
 *     forward(ops, x, p) {
 *       const root = new Scope('MyNet');
 *       const h = convolutionalLayer(ops, x, root, 'conv', { filters: p.width, acti: 'relu' }); // MyNet/conv_bn_relu
 *       return convolutionalLayer(ops, h, root, 'out', { filters: p.num_classes, kernel: 1, normalization: null, bias: true });
 *     },
 *   });
 *
 * The forward pass is written against LayerOps (NiftyNet's primitive layers: conv, deconv, batchNorm, instanceNorm,
 * activation, pool, linearResize, …), so the same description lists the variables (names, shapes, trainable) without
 * an engine and trains on any engine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { denseVNet } from './dense-vnet';
import { InvalidNetworkModuleError, UnknownNetworkError } from './errors';
import { highres3dnet, highres3dnetLarge, highres3dnetSmall } from './highres3dnet';
import { noNewNet } from './no-new-net';
import type { NetworkDefinition } from './types';
import { toynet } from './toynet';
import { unet } from './unet';
import { unet2d } from './unet-2d';
import { vnet } from './vnet';

export type { Activation, CommonParams, ConvOptions, LayerOps, NetworkDefinition } from './types';
export type { VariableSpec, VariableRole } from './variable-spec';
export { defineNetwork } from './define';
export { InvalidNetworkModuleError, InvalidNetworkParamsError, UnknownNetworkError } from './errors';
export { Scope } from './scope';
export { activationLayer, convolutionalLayer, deconvolutionalLayer, elementwiseConcat, elementwiseSum } from './niftynet-layers';

/** NiftyNet 0.6.0's segmentation networks, by NiftyNet's [NETWORK] name. */
const BUILT_IN: NetworkDefinition[] = [
  highres3dnet, highres3dnetSmall, highres3dnetLarge, denseVNet, unet, unet2d, vnet, noNewNet, toynet,
];

export function listNetworks(): { name: string; description: string }[] {
  return BUILT_IN.map(({ name, description }) => ({ name, description }));
}

function isModulePath(name: string): boolean {
  return name.startsWith('.') || path.isAbsolute(name);
}

function isNetworkDefinition(value: unknown): value is NetworkDefinition {
  const v = value as Partial<NetworkDefinition> | undefined;
  return !!v && typeof v.variables === 'function' && typeof v.forward === 'function' &&
    typeof v.resolveParams === 'function' && typeof v.inputSizeProblem === 'function';
}

function loadPlugin(name: string, baseDir: string): NetworkDefinition {
  const file = path.resolve(baseDir, name);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new UnknownNetworkError(`network module ${file} does not exist (or is not a file)`, {
      file,
      field: 'network.name',
      fix: 'give a path relative to the pipeline file, or a built-in network: ' + BUILT_IN.map((n) => n.name).join(', '),
    });
  }
  let mod: { default?: unknown; network?: unknown };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file) as { default?: unknown; network?: unknown };
  } catch (err) {
    throw new InvalidNetworkModuleError(`network module ${file} cannot be loaded: ${(err as Error).message.split('\n')[0]}`, {
      file,
      field: 'network.name',
      fix: 'fix the module (run it with node to see the error), or use a built-in network: ' + BUILT_IN.map((n) => n.name).join(', '),
    });
  }
  const def = [mod.default, mod.network, mod].find(isNetworkDefinition);
  if (!def) {
    throw new InvalidNetworkModuleError(`network module ${file} exports no NetworkDefinition`, {
      file,
      field: 'network.name',
      fix: 'export (as default, `network` or module.exports) an object made with defineNetwork(...)',
    });
  }
  return def;
}

/**
 * The network called `name`: a built-in, or a plugin module path (resolved from `baseDir`, the pipeline's folder).
 * Unknown names are an UnknownNetworkError listing the known ones.
 */
export function getNetwork(name: string, options: { baseDir?: string } = {}): NetworkDefinition {
  if (isModulePath(name)) return loadPlugin(name, options.baseDir ?? process.cwd());
  const def = BUILT_IN.find((n) => n.name === name);
  if (!def) {
    throw new UnknownNetworkError(`unknown network ${JSON.stringify(name)}`, {
      field: 'network.name',
      fix: `use one of ${BUILT_IN.map((n) => n.name).join(', ')}, or a path to a network module (./my-net.js)`,
    });
  }
  return def;
}
