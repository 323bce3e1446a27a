/**
 * Optimisers with named state, TF1 semantics: state lives in the stage's variable map under TensorFlow 1 slot names
 * (see slot-names.ts), so it is saved, restored and re-aligned by name whatever the trained set is — unlike tfjs'
 * own optimisers, which keep state by position. Updates are written as TensorFlow's training kernels compute them.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { TrainingSettings } from '../../pipeline/plan';
import type { Tf } from '../backend';
import { BETA1_POWER, BETA2_POWER } from './slot-names';

type Variable = tfTypes.Variable;
type Tensor = tfTypes.Tensor;

export interface Optimizer {
  /** One update of the trained variables from their gradients (by variable name); advances the optimiser's state. */
  apply(grads: Map<string, Tensor>): void;
}

function getVar(vars: Map<string, Variable>, name: string): Variable {
  const v = vars.get(name);
  if (!v) throw new Error(`optimiser state ${name} is missing from the stage's variables`);
  return v;
}

/** tf.compat.v1.train.GradientDescentOptimizer: var -= lr * g. */
function sgd(tf: Tf, vars: Map<string, Variable>, s: TrainingSettings): Optimizer {
  return {
    apply(grads) {
      tf.tidy(() => {
        const lr = tf.scalar(s.lr);
        for (const [name, g] of grads) {
          const v = getVar(vars, name);
          v.assign(v.sub(lr.mul(g)));
        }
      });
    },
  };
}

/** tf.compat.v1.train.MomentumOptimizer (no Nesterov): accum = accum * momentum + g; var -= lr * accum. */
function momentum(tf: Tf, vars: Map<string, Variable>, s: TrainingSettings): Optimizer {
  return {
    apply(grads) {
      tf.tidy(() => {
        const lr = tf.scalar(s.lr);
        const mu = tf.scalar(s.momentum);
        for (const [name, g] of grads) {
          const v = getVar(vars, name);
          const accum = getVar(vars, `${name}/Momentum`);
          accum.assign(accum.mul(mu).add(g));
          v.assign(v.sub(lr.mul(accum)));
        }
      });
    },
  };
}

/**
 * tf.compat.v1.train.AdamOptimizer: lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power);
 * m += (g - m) * (1 - beta1); v += (g² - v) * (1 - beta2); var -= lr_t * m / (sqrt(v) + epsilon);
 * then beta1_power *= beta1, beta2_power *= beta2. All in float32, as the ApplyAdam kernel computes it.
 */
function adam(tf: Tf, vars: Map<string, Variable>, s: TrainingSettings): Optimizer {
  return {
    apply(grads) {
      tf.tidy(() => {
        const beta1Power = getVar(vars, BETA1_POWER);
        const beta2Power = getVar(vars, BETA2_POWER);
        const one = tf.scalar(1);
        const b1 = tf.scalar(s.beta1);
        const b2 = tf.scalar(s.beta2);
        // 1 - beta in float32 arithmetic, as the kernel computes it (not float32(1 - beta) from a double).
        const oneMinusB1 = one.sub(b1);
        const oneMinusB2 = one.sub(b2);
        const eps = tf.scalar(s.epsilon);
        const lrT = tf.scalar(s.lr).mul(tf.sqrt(one.sub(beta2Power))).div(one.sub(beta1Power));
        for (const [name, g] of grads) {
          const v = getVar(vars, name);
          const m = getVar(vars, `${name}/Adam`);
          const u = getVar(vars, `${name}/Adam_1`);
          m.assign(m.add(g.sub(m).mul(oneMinusB1)));
          u.assign(u.add(g.square().sub(u).mul(oneMinusB2)));
          v.assign(v.sub(lrT.mul(m).div(u.sqrt().add(eps))));
        }
        beta1Power.assign(beta1Power.mul(b1));
        beta2Power.assign(beta2Power.mul(b2));
      });
    },
  };
}

/** The stage's optimiser over `vars` (which must already hold its slots: see optimizerVariables in slot-names). */
export function makeOptimizer(tf: Tf, vars: Map<string, Variable>, settings: TrainingSettings): Optimizer {
  switch (settings.optimizer) {
    case 'adam':
      return adam(tf, vars, settings);
    case 'momentum':
      return momentum(tf, vars, settings);
    case 'sgd':
      return sgd(tf, vars, settings);
  }
}
