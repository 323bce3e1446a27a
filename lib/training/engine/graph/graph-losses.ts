/**
 * NiftyNet's segmentation losses as graph nodes: losses.ts' maths (per batch item on [voxels, classes], then
 * averaged over the batch; softmax probabilities except for the cross-entropy losses, which take the logits), with
 * the batch items side by side in one [batch, voxels, classes] tensor instead of sliced apart, so that the loss and
 * its gradient are a few ops over the whole batch. Per item the reductions are the same; only their summation order
 * may differ from the tfjs engine's in the last bits.
 */
import type { LossType } from '../../../pipeline/plan';
import type { GraphBuilder, Sym } from './graph';

const EPSILON = 1e-5;
const TAKES_LOGITS: ReadonlySet<LossType> = new Set<LossType>(['CrossEntropy', 'DicePlusXEnt']);

/** One loss on predictions and one-hot labels [B, V, C]: per item, [B] or [B, C]. */
type BatchLoss = (g: GraphBuilder, prediction: Sym, onehot: Sym) => Sym;

/** Per item, over voxels: [B, V, C] → [B, C]. */
const sumVoxels = (g: GraphBuilder, t: Sym) => g.reduce('Sum', t, [1]);
/** Per item, over everything: [B, ...] → [B]. */
const sumItem = (g: GraphBuilder, t: Sym) => g.reduce('Sum', t, t.shape.slice(1).map((_, i) => i + 1));

function crossEntropy(g: GraphBuilder, logits: Sym, onehot: Sym): Sym {
  return g.neg(g.reduce('Mean', g.reduce('Sum', g.mul(g.unary('LogSoftmax', logits), onehot), [2]), [1]));
}

function diceScore(g: GraphBuilder, p: Sym, onehot: Sym, squared: boolean): Sym {
  const numerator = g.mul(sumVoxels(g, g.mul(onehot, p)), g.scalar(2));
  const denominator = g.add(sumVoxels(g, squared ? g.unary('Square', p) : p), sumVoxels(g, onehot));
  return g.div(g.add(numerator, g.scalar(EPSILON)), g.add(denominator, g.scalar(EPSILON)));
}

const LOSSES: Record<LossType, BatchLoss> = {
  CrossEntropy: crossEntropy,
  Dice: (g, p, onehot) => g.sub(g.scalar(1), g.reduce('Mean', diceScore(g, p, onehot, true), [1])),
  Dice_NS: (g, p, onehot) => g.sub(g.scalar(1), g.reduce('Mean', diceScore(g, p, onehot, false), [1])),
  // −dice per class + cross entropy: [B, C]; the batch mean then averages over classes too.
  DicePlusXEnt: (g, logits, onehot) => g.add(g.neg(diceScore(g, g.unary('Softmax', logits), onehot, false)),
    g.reshape(crossEntropy(g, logits, onehot), [logits.shape[0], 1])),
  GDSC(g, p, onehot) {
    const refVol = sumVoxels(g, onehot);
    const intersect = sumVoxels(g, g.mul(onehot, p));
    const segVol = sumVoxels(g, p);
    const raw = g.div(g.scalar(1), g.unary('Square', refVol));
    const isInf = g.op1('IsInf', [raw], { T: { type: 'float32' } });
    const finite = g.select(isInf, g.zerosLike(raw), raw);
    const weights = g.select(isInf, g.mul(g.unary('OnesLike', raw), g.reduce('Max', finite, [1], true)), raw);
    const numerator = g.mul(g.reduce('Sum', g.mul(weights, intersect), [1]), g.scalar(2));
    const denominator = g.reduce('Sum', g.mul(weights, g.binary('Maximum', g.add(segVol, refVol), g.scalar(1))), [1]);
    const score = g.div(numerator, denominator);
    const isNan = g.op1('IsNan', [score], { T: { type: 'float32' } });
    return g.sub(g.scalar(1), g.select(isNan, g.unary('OnesLike', score), score));
  },
  Tversky(g, p, onehot) {
    const half = g.scalar(0.5);
    const one = g.scalar(1);
    const tp = sumItem(g, g.mul(p, onehot));
    const fp = g.mul(half, sumItem(g, g.mul(p, g.sub(one, onehot))));
    const fn = g.mul(half, sumItem(g, g.mul(g.sub(one, p), onehot)));
    return g.sub(one, g.div(tp, g.add(g.add(g.add(tp, fp), fn), g.scalar(EPSILON))));
  },
  SensSpec(g, p, onehot) {
    const r = 0.05;
    const cold = g.sub(g.scalar(1), onehot);
    const squaredError = g.unary('Square', g.sub(onehot, p));
    const specificity = g.div(sumVoxels(g, g.mul(squaredError, onehot)), g.add(sumVoxels(g, onehot), g.scalar(EPSILON)));
    const sensitivity = g.div(sumVoxels(g, g.mul(squaredError, cold)), g.add(sumVoxels(g, cold), g.scalar(EPSILON)));
    return g.reduce('Sum', g.add(g.mul(specificity, g.scalar(r)), g.mul(sensitivity, g.scalar(1 - r))), [1]);
  },
};

/** NiftyNet's LossFunction(loss_type, softmax=True) on logits [B, ...spatial, C] and int32 labels [B, ...spatial]. */
export function graphSegmentationLoss(g: GraphBuilder, lossType: LossType, logits: Sym, labels: Sym): Sym {
  return g.inScope('loss', () => {
    const batch = logits.shape[0];
    const classes = logits.shape[logits.shape.length - 1];
    const voxels = logits.shape.slice(1, -1).reduce((a, b) => a * b, 1);
    const items = g.reshape(logits, [batch, voxels, classes]);
    const onehot = g.op1('OneHot', [g.reshape(labels, [batch, voxels]), g.constant('int32', [], [classes]), g.scalar(1), g.scalar(0)],
      { T: { type: 'float32' }, TI: { type: 'int32' }, axis: { int: -1 } });
    const prediction = TAKES_LOGITS.has(lossType) ? items : g.unary('Softmax', items);
    return g.meanAll(LOSSES[lossType](g, prediction, onehot));
  });
}
