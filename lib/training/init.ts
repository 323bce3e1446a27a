/**
 * Initial values of a stage's variables, engine-agnostic (plain Float32Arrays). Every random draw is a pure function
 * of (seed, variable name): independent of creation order, of which other variables exist and of the engine, so the
 * same seed gives bit-identical starting weights on every run.
 */
import { keyOf, Stream } from '../data/random';
import type { TrainingSettings } from '../pipeline/plan';
import type { VariableSpec } from './networks/variable-spec';

/** Purpose tag for weight initialisation (distinct from lib/data's tags). */
const INIT_PURPOSE = 101;

/** FNV-1a over UTF-16 code units: a 32-bit key word for a variable name. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * He-normal weights (std sqrt(2 / fan_in), truncated at 2 std like TensorFlow's truncated normal), as NiftyNet's
 * default initialisers: fan_in is the kernel volume times the input channels, i.e. every dimension but the last of
 * a convolution kernel [...k, in, out], and all but the second-to-last of a transposed one [...k, out, in].
 */
function heNormal(spec: VariableSpec, seed: number): Float32Array {
  const out = new Float32Array(size(spec.shape));
  const s = spec.shape;
  const fanIn = spec.role === 'deconv_weight' ? size(s.slice(0, -2)) * s[s.length - 1] : size(s.slice(0, -1));
  const std = Math.sqrt(2 / fanIn);
  const rng = new Stream(keyOf(seed, nameHash(spec.name), INIT_PURPOSE));
  for (let i = 0; i < out.length; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    out[i] = z * std;
  }
  return out;
}

/**
 * The initial value of a float variable, as NiftyNet's layers and TF1's optimisers initialise it: weights He normal,
 * gamma and moving variance 1, prelu alpha, beta, biases, moving means, zero-debias state and optimiser slots 0,
 * Adam's powers beta.
 */
export function initialValue(spec: VariableSpec, seed: number, settings: TrainingSettings): Float32Array {
  switch (spec.role) {
    case 'weight':
    case 'deconv_weight':
      return heNormal(spec, seed);
    case 'bn_gamma':
    case 'norm_gamma':
    case 'bn_moving_variance':
      return new Float32Array(size(spec.shape)).fill(1);
    case 'constant':
      return new Float32Array(size(spec.shape)).fill(spec.init ?? 0);
    case 'optimizer_power':
      return Float32Array.of(spec.name.endsWith('beta2_power') ? settings.beta2 : settings.beta1);
    default:
      return new Float32Array(size(spec.shape));
  }
}
