/**
 * Segmentation losses over logits [B, ...spatial, C] and integer labels [B, ...spatial], as NiftyNet defines them:
 * Dice = 1 - mean over classes of 2·Σ(p·g) / (Σp² + Σg + ε), with p = softmax(logits), g = one-hot labels;
 * cross-entropy = mean softmax cross-entropy; dice_plus_xent = their sum.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { LossName } from '../../pipeline/plan';
import type { Tf } from '../backend';

type Tensor = tfTypes.Tensor;

const DICE_EPSILON = 1e-5;

function flatten(tf: Tf, logits: Tensor, labels: Tensor): { logits2d: tfTypes.Tensor2D; onehot: tfTypes.Tensor2D } {
  const classes = logits.shape[logits.rank - 1];
  const logits2d = logits.reshape([-1, classes]) as tfTypes.Tensor2D;
  const onehot = tf.oneHot(labels.reshape([-1]) as tfTypes.Tensor1D, classes).toFloat() as tfTypes.Tensor2D;
  return { logits2d, onehot };
}

function dice(tf: Tf, logits2d: tfTypes.Tensor2D, onehot: tfTypes.Tensor2D): Tensor {
  const p = tf.softmax(logits2d);
  const numerator = p.mul(onehot).sum(0).mul(2);
  const denominator = p.square().sum(0).add(onehot.sum(0)).add(DICE_EPSILON);
  return tf.scalar(1).sub(numerator.div(denominator).mean());
}

function crossEntropy(tf: Tf, logits2d: tfTypes.Tensor2D, onehot: tfTypes.Tensor2D): Tensor {
  return tf.logSoftmax(logits2d).mul(onehot).sum(1).mean().neg();
}

export function segmentationLoss(tf: Tf, loss: LossName, logits: Tensor, labels: Tensor): tfTypes.Scalar {
  const { logits2d, onehot } = flatten(tf, logits, labels);
  switch (loss) {
    case 'dice':
      return dice(tf, logits2d, onehot) as tfTypes.Scalar;
    case 'cross_entropy':
      return crossEntropy(tf, logits2d, onehot) as tfTypes.Scalar;
    case 'dice_plus_xent':
      return dice(tf, logits2d, onehot).add(crossEntropy(tf, logits2d, onehot)) as tfTypes.Scalar;
  }
}
