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
 * He-normal weights (std sqrt(2 / fan_in), truncated at 2 std like TensorFlow's truncated normal): fan_in is the
 * kernel volume times the input channels, i.e. every dimension but the last.
 */
function heNormal(spec: VariableSpec, seed: number): Float32Array {
  const out = new Float32Array(size(spec.shape));
  const fanIn = size(spec.shape.slice(0, -1));
  const std = Math.sqrt(2 / fanIn);
  const rng = new Stream(keyOf(seed, nameHash(spec.name), INIT_PURPOSE));
  for (let i = 0; i < out.length; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    out[i] = z * std;
  }
  return out;
}

/** The initial value of a float variable: network weights, batch-norm parameters, optimiser slots and powers. */
export function initialValue(spec: VariableSpec, seed: number, settings: TrainingSettings): Float32Array {
  switch (spec.role) {
    case 'weight':
      return heNormal(spec, seed);
    case 'bn_gamma':
    case 'bn_moving_variance':
      return new Float32Array(size(spec.shape)).fill(1);
    case 'optimizer_slot':
      // Adam's powers start at beta (tf.compat.v1.train.AdamOptimizer); every per-variable slot starts at zero.
      if (spec.name === 'beta1_power') return Float32Array.of(settings.beta1);
      if (spec.name === 'beta2_power') return Float32Array.of(settings.beta2);
      return new Float32Array(size(spec.shape));
    default:
      return new Float32Array(size(spec.shape));
  }
}
