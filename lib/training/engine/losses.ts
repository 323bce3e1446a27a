/**
 * NiftyNet's segmentation losses by NiftyNet's names (niftynet/layer/loss_segmentation.py, LossFunction): computed
 * per batch item on [voxels, classes] and averaged over the batch. Probabilities are softmax(logits) for every loss
 * except the cross-entropy ones, which take the logits (NiftyNet turns softmax off for them).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { LossType } from '../../pipeline/plan';
import type { Tf } from '../backend';

type Tensor = tfTypes.Tensor;
type Tensor1D = tfTypes.Tensor1D;
type Tensor2D = tfTypes.Tensor2D;

export const LOSS_TYPES = ['CrossEntropy', 'Dice', 'Dice_NS', 'DicePlusXEnt', 'GDSC', 'Tversky', 'SensSpec'] as const;

const EPSILON = 1e-5;

/** Losses whose name NiftyNet's LossFunction recognises as cross entropy: they get logits, not probabilities. */
const TAKES_LOGITS: ReadonlySet<LossType> = new Set<LossType>(['CrossEntropy', 'DicePlusXEnt']);

type ItemLoss = (tf: Tf, prediction: Tensor2D, labels: Tensor1D, onehot: Tensor2D) => Tensor;

function crossEntropy(tf: Tf, logits: Tensor2D, _labels: Tensor1D, onehot: Tensor2D): Tensor {
  // sparse_softmax_cross_entropy_with_logits, averaged over voxels
  return tf.logSoftmax(logits).mul(onehot).sum(1).mean().neg();
}

function diceScore(tf: Tf, p: Tensor2D, onehot: Tensor2D, squared: boolean): Tensor {
  const numerator = onehot.mul(p).sum(0).mul(tf.scalar(2));
  const denominator = (squared ? p.square() : p).sum(0).add(onehot.sum(0));
  return numerator.add(tf.scalar(EPSILON)).div(denominator.add(tf.scalar(EPSILON)));
}

const LOSSES: Record<LossType, ItemLoss> = {
  CrossEntropy: crossEntropy,
  Dice: (tf, p, _l, onehot) => tf.scalar(1).sub(diceScore(tf, p, onehot, true).mean()),
  Dice_NS: (tf, p, _l, onehot) => tf.scalar(1).sub(diceScore(tf, p, onehot, false).mean()),
  // −dice per class (softmax, no squares) + cross entropy; the batch mean then averages over classes too.
  DicePlusXEnt: (tf, logits, labels, onehot) =>
    diceScore(tf, tf.softmax(logits), onehot, false).neg().add(crossEntropy(tf, logits, labels, onehot)),
  GDSC(tf, p, _l, onehot) {
    const refVol = onehot.sum(0);
    const intersect = onehot.mul(p).sum(0);
    const segVol = p.sum(0);
    const raw = tf.scalar(1).div(refVol.square());
    const isInf = tf.isInf(raw);
    const finite = tf.where(isInf, tf.zerosLike(raw), raw);
    const weights = tf.where(isInf, tf.onesLike(raw).mul(finite.max()), raw);
    const numerator = weights.mul(intersect).sum().mul(tf.scalar(2));
    const denominator = weights.mul(tf.maximum(segVol.add(refVol), tf.scalar(1))).sum();
    const score = numerator.div(denominator);
    return tf.scalar(1).sub(tf.where(tf.isNaN(score), tf.onesLike(score), score));
  },
  Tversky(tf, p, _l, onehot) {
    const half = tf.scalar(0.5);
    const one = tf.scalar(1);
    const tp = p.mul(onehot).sum();
    const fp = half.mul(p.mul(one.sub(onehot)).sum());
    const fn = half.mul(one.sub(p).mul(onehot).sum());
    return one.sub(tp.div(tp.add(fp).add(fn).add(tf.scalar(EPSILON))));
  },
  SensSpec(tf, p, _l, onehot) {
    const r = 0.05;
    const cold = tf.scalar(1).sub(onehot);
    const squaredError = onehot.sub(p).square();
    const specificity = squaredError.mul(onehot).sum(0).div(onehot.sum(0).add(tf.scalar(EPSILON)));
    const sensitivity = squaredError.mul(cold).sum(0).div(cold.sum(0).add(tf.scalar(EPSILON)));
    return specificity.mul(tf.scalar(r)).add(sensitivity.mul(tf.scalar(1 - r))).sum();
  },
};

/** NiftyNet's LossFunction(loss_type, softmax=True) on logits [B, ...spatial, C] and integer labels [B, ...spatial]. */
export function segmentationLoss(tf: Tf, lossType: LossType, logits: Tensor, labels: Tensor): tfTypes.Scalar {
  const batch = logits.shape[0];
  const classes = logits.shape[logits.rank - 1];
  const perItem: Tensor[] = [];
  for (let b = 0; b < batch; b++) {
    const item = logits.slice(b, 1).reshape([-1, classes]) as Tensor2D;
    const itemLabels = labels.slice(b, 1).reshape([-1]).toInt() as Tensor1D;
    const onehot = tf.oneHot(itemLabels, classes).toFloat() as Tensor2D;
    const prediction = TAKES_LOGITS.has(lossType) ? item : (tf.softmax(item) as Tensor2D);
    perItem.push(LOSSES[lossType](tf, prediction, itemLabels, onehot));
  }
  return tf.stack(perItem).mean() as tfTypes.Scalar;
}
