"""Keras counterpart of bench/training.ts: the same U-Net / HighRes3DNet architectures (conv-bn-relu, same widths,
dilations, upsampling, classifier), the same loss (Dice + cross-entropy) and Adam, timed per training step.

Usage: training_keras.py CONFIGS.json  → prints JSON [{name, graph_ms, eager_ms}] (median step time after warm-up)
CONFIG: {name, network: unet|highres3dnet, params, spatial: [...], batch, steps, warmup}
"""
import json
import sys
import time

import numpy as np
import tensorflow as tf

L = tf.keras.layers


def conv(x, filters, kernel=3, stride=1, dilation=1, bias=False):
    return L.Conv2D(filters, kernel, stride, "same", dilation_rate=dilation, use_bias=bias)(x) if DIMS == 2 else \
        L.Conv3D(filters, kernel, stride, "same", dilation_rate=dilation, use_bias=bias)(x)


def bn_relu(x):
    return L.ReLU()(L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x))


def conv_bn_relu(x, filters, kernel=3):
    return bn_relu(conv(x, filters, kernel))


def upsample(x):
    return L.UpSampling2D(2)(x) if DIMS == 2 else L.UpSampling3D(2)(x)


def maxpool(x):
    return L.MaxPool2D(2)(x) if DIMS == 2 else L.MaxPool3D(2)(x)


def unet(x, p):
    base, depth = p.get("base_features", 8), p.get("depth", 2)
    skips = []
    for level in range(1, depth + 1):
        f = base * 2 ** (level - 1)
        x = conv_bn_relu(conv_bn_relu(x, f), f)
        skips.append(x)
        x = maxpool(x)
    x = conv_bn_relu(conv_bn_relu(x, base * 2 ** depth), base * 2 ** depth)
    for level in range(depth, 0, -1):
        f = base * 2 ** (level - 1)
        x = conv_bn_relu(upsample(x), f, 2)
        x = L.Concatenate()([skips[level - 1], x])
        x = conv_bn_relu(conv_bn_relu(x, f), f)
    return conv(x, p.get("num_classes", 2), 1, bias=True)


def pad_channels(x, channels):
    missing = channels - x.shape[-1]
    if missing <= 0:
        return x
    return L.Lambda(lambda t: tf.pad(t, [[0, 0]] * (DIMS + 1) + [[0, missing]]))(x)


def highres3dnet(x, p):
    features, dilations = p.get("features", [16, 32, 64]), p.get("dilations", [1, 2, 4])
    blocks, head = p.get("blocks", 3), p.get("head_features", 80)
    x = conv_bn_relu(x, features[0])
    for f, d in zip(features, dilations):
        for _ in range(blocks):
            r = conv(bn_relu(x), f, dilation=d)
            r = conv(bn_relu(r), f, dilation=d)
            x = L.Add()([pad_channels(x, f), r])
    x = conv_bn_relu(x, head, 1)
    return conv(x, p.get("num_classes", 2), 1, bias=True)


def dice_plus_xent(labels, logits):
    classes = logits.shape[-1]
    logits2d = tf.reshape(logits, [-1, classes])
    onehot = tf.one_hot(tf.reshape(labels, [-1]), classes)
    p = tf.nn.softmax(logits2d)
    dice = 1 - tf.reduce_mean(2 * tf.reduce_sum(p * onehot, 0) / (tf.reduce_sum(p * p, 0) + tf.reduce_sum(onehot, 0) + 1e-5))
    xent = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(onehot, logits2d))
    return dice + xent


def bench(cfg):
    global DIMS
    DIMS = len(cfg["spatial"])
    inp = L.Input(shape=(*cfg["spatial"], 1), batch_size=cfg["batch"])
    out = {"unet": unet, "highres3dnet": highres3dnet}[cfg["network"]](inp, cfg["params"])
    model = tf.keras.Model(inp, out)
    opt = tf.keras.optimizers.Adam(1e-3, epsilon=1e-8)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(cfg["batch"], *cfg["spatial"], 1)).astype(np.float32))
    y = tf.constant((rng.random((cfg["batch"], *cfg["spatial"])) > 0.7).astype(np.int32))

    def step():
        with tf.GradientTape() as tape:
            loss = dice_plus_xent(y, model(x, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    graph_step = tf.function(step)
    result = {"name": cfg["name"]}
    # Eager is op by op like thaw's engine, and slow: fewer steps suffice for its median.
    for label, fn, steps in (("graph_ms", graph_step, cfg["steps"]), ("eager_ms", step, min(cfg["steps"], 3))):
        times = []
        for i in range(cfg["warmup"] + steps):
            t0 = time.perf_counter()
            float(fn())
            if i >= cfg["warmup"]:
                times.append((time.perf_counter() - t0) * 1000)
        result[label] = float(np.median(times))
    return result


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        configs = json.load(f)
    print(json.dumps([bench(c) for c in configs]))
