/**
 * Training metrics: per-iteration loss as JSON lines and TensorBoard event files under `model_dir/logs/`, reading
 * them back, and the loss-curve picture `model_dir/loss.svg`.
 */
export { openMetricsLog, type MetricsLog } from './metrics-log';
export { readLossLog, type LossEntry, type LossSeries } from './loss-log';
export { renderLossCurveSvg, type LossCurveOptions } from './loss-curve-svg';
export { writeLossCurve } from './loss-curve';
export { eventDir, lossCurveFile, lossLogFile, logsDir } from './paths';
