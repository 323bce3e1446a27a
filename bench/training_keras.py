"""Keras counterpart of bench/training.ts: NiftyNet 0.6.0's networks as thaw builds them (lib/training/networks/*.ts),
layer for layer — same widths, kernels, strides, padding, biases, batch norm in training mode on batch statistics
(epsilon 1e-5, decay 0.9), dilation by space_to_batch, TF1 bilinear resizing — with NiftyNet's DicePlusXEnt loss and
Adam, timed per training step as a tf.function graph and eagerly.

Usage: training_keras.py [--count] [--mode graph|eager|jit] CONFIGS.json
  → prints JSON [{name, graph_ms, eager_ms, jit_ms, peak_rss_mb, trainable_vars, trainable_size, trainable_shapes,
    output_size}] (median step time after warm-up) for the modes run (all three unless --mode names one: then
    peak_rss_mb, the process' peak resident memory, is that mode's); with --count only the model's variables and
    output size, nothing timed. graph = tf.function, jit = tf.function(jit_compile=True) (XLA), eager = op by op.
CONFIG: {name, network: highres3dnet|unet_2d|dense_vnet|unet|toynet, params, spatial: [...], batch, steps, warmup}
Left out: DenseVNet's random affine augmentation (thaw runs that config with augmentation_scale 0 too).
"""
import json
import resource
import sys
import time

import numpy as np
import tensorflow as tf

L = tf.keras.layers
DIMS = 3


def nd(two, three):
    return two if DIMS == 2 else three


def conv(x, filters, kernel=3, stride=1, padding="same", bias=False):
    """NiftyNet's ConvLayer (no bias by default)."""
    return nd(L.Conv2D, L.Conv3D)(filters, kernel, stride, padding, use_bias=bias)(x)


def bn(x):
    """NiftyNet's BNLayer: batch statistics while training (model called with training=True)."""
    return L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def relu(x):
    return L.ReLU()(x)


def conv_layer(x, filters, kernel=3, stride=1, padding="same", bias=False, norm=True, acti=False):
    """NiftyNet's ConvolutionalLayer: conv → bn → relu."""
    y = conv(x, filters, kernel, stride, padding, bias)
    if norm:
        y = bn(y)
    return relu(y) if acti else y


def deconv_layer(x, filters, kernel, stride, padding="same", bias=False, acti=False):
    """NiftyNet's DeconvolutionalLayer: conv_transpose → bn → relu."""
    y = bn(nd(L.Conv2DTranspose, L.Conv3DTranspose)(filters, kernel, stride, padding, use_bias=bias)(x))
    return relu(y) if acti else y


def lam(fn, *xs):
    return L.Lambda(fn)(list(xs) if len(xs) > 1 else xs[0])


def bilinear(t, hw):
    # TF1's resize_bilinear (align_corners and half_pixel_centers false), as NiftyNet and thaw resize.
    return tf.compat.v1.image.resize_bilinear(t, hw, align_corners=False, half_pixel_centers=False)


def linear_resize(x, size):
    """NiftyNet's LinearResizeLayer: bilinear in 2-D; in 3-D on (y, z) per x slice, then (y, x) per z slice."""
    if DIMS == 2:
        return lam(lambda t: bilinear(t, size), x)
    b, xs, ys, zs, c = x.shape
    xn, yn, zn = size
    if (xs, ys, zs) == (xn, yn, zn):
        return x

    def resize3d(t):
        by_x = tf.reshape(bilinear(tf.reshape(t, [-1, ys, zs, c]), [yn, zn]), [b, xs, yn, zn, c])
        reoriented = tf.reshape(tf.transpose(by_x, [0, 3, 2, 1, 4]), [-1, yn, xs, c])
        by_z = tf.reshape(bilinear(reoriented, [yn, xn]), [b, zn, yn, xn, c])
        return tf.transpose(by_z, [0, 3, 2, 1, 4])

    return lam(resize3d, x)


def residual_sum(y, x):
    """ElementwiseLayer SUM: a narrower bypass zero-padded on both sides of the channel axis, a wider one projected."""
    n_param, n_bypass = y.shape[-1], x.shape[-1]
    if n_param > n_bypass:
        before = (n_param - n_bypass) // 2
        x = lam(lambda t: tf.pad(t, [[0, 0]] * (DIMS + 1) + [[before, n_param - n_bypass - before]]), x)
    elif n_param < n_bypass:
        x = conv(x, n_param, 1)
    return L.Add()([y, x])


def highres3dnet(x, p):
    x = conv_layer(x, p.get("conv_0_features", 16), 3, acti=True)
    for features, dilation in zip(p.get("res_features", [16, 32, 64]), [1, 2, 4]):
        block = [dilation] * DIMS
        if dilation > 1:
            x = lam(lambda t, b=block: tf.space_to_batch_nd(t, b, [[0, 0]] * DIMS), x)
        for _ in range(p.get("res_repeat", 3)):
            y = x
            for _ in range(2):
                y = conv(relu(bn(y)), features, 3)
            x = residual_sum(y, x)
        if dilation > 1:
            x = lam(lambda t, b=block: tf.batch_to_space(t, b, [[0, 0]] * DIMS), x)
    x = conv_layer(x, p.get("conv_1_features", 80), 1, acti=True)
    return conv_layer(x, p.get("num_classes", 2), 1)


def unet_2d(x, p):
    f = p.get("n_features", [64, 128, 256, 512, 1024])

    def two_conv(t, filters):
        for _ in range(2):
            t = conv_layer(t, filters, 3, padding="valid", bias=True, acti=True)
        return t

    def crop_concat(skip, up):
        target = up.shape[1:-1]
        border = (skip.shape[1] - target[0]) // 2
        cropped = lam(lambda t: t[:, border:t.shape[1] - border, border:t.shape[2] - border, :], skip)
        return L.Concatenate()([linear_resize(cropped, list(target)), up])

    skips = []
    for level in range(4):
        x = two_conv(x, f[level])
        skips.append(x)
        x = L.MaxPool2D(2, 2, "same")(x)
    x = two_conv(x, f[4])
    for level in range(3, -1, -1):
        up = deconv_layer(x, f[level], 2, 2, "valid", bias=True, acti=True)
        x = two_conv(crop_concat(skips[level], up), f[level])
    return conv(x, p.get("num_classes", 2), 1, bias=True)


def dense_vnet(x, p):
    dense = p.get("n_dense_channels", [4, 8, 16])
    seg = p.get("n_seg_channels", [12, 24, 24])
    down_channels = p.get("n_down_channels", [24, 24, None])
    rates = p.get("dilation_rates", [[1] * 5, [1] * 10, [1] * 10])
    pooled = bn(nd(L.AveragePooling2D, L.AveragePooling3D)(3, 2, "same")(x))
    size = list(pooled.shape[1:-1])
    initial = conv_layer(x, p.get("n_initial_conv_channels", 24), 5, 2)
    feature_maps = [pooled]
    down = L.Concatenate()([pooled, initial])
    for b in range(len(dense)):
        stack = [down]
        for _ in rates[b]:
            stack.append(conv_layer(L.Concatenate()(stack) if len(stack) > 1 else stack[0], dense[b], 3, acti=True))
        merged = L.Concatenate()(stack)
        skip = conv_layer(merged, seg[b], 3, acti=True)
        if down_channels[b] is not None:
            down = conv_layer(merged, down_channels[b], 3, 2, acti=True)
        feature_maps.append(linear_resize(skip, size))
    out = conv_layer(L.Concatenate()(feature_maps), p.get("num_classes", 2), p.get("seg_kernel_size", 3),
                     bias=True, norm=False)
    return linear_resize(out, list(x.shape[1:-1]))


def unet(x, p):
    """NiftyNet's UNet3D: down blocks of two conv-bn-relu + 2×2×2 max pooling, up blocks ending in a 2×2×2
    deconv-bn, skips concatenated first, a final block ending in a 1×1×1 conv-bn-relu, 44 voxels cropped a side."""
    f = p.get("n_features", [32, 64, 128, 256, 512])

    def block(t, func, features, kernels=(3, 3)):
        for feat, k in zip(features, kernels):
            t = conv_layer(t, feat, k, acti=True)
        branch = t
        if func == "down":
            t = L.MaxPool3D(2, 2, "same")(t)
        elif func == "up":
            t = deconv_layer(t, features[-1], 2, 2)
        return t, branch

    l1, b1 = block(x, "down", [f[0], f[1]])
    l2, b2 = block(l1, "down", [f[1], f[2]])
    l3, b3 = block(l2, "down", [f[2], f[3]])
    l4, _ = block(l3, "up", [f[3], f[4]])
    r3, _ = block(L.Concatenate()([b3, l4]), "up", [f[3], f[3]])
    r2, _ = block(L.Concatenate()([b2, r3]), "up", [f[2], f[2]])
    _, r1 = block(L.Concatenate()([b1, r2]), "none", [f[1], f[1], p.get("num_classes", 2)], [3, 3, 1])
    return lam(lambda t: t[:, 44:-44, 44:-44, 44:-44, :], r1)


def toynet(x, p):
    x = conv_layer(x, p.get("hidden_features", 10), 3, acti=True)
    return conv_layer(x, p.get("num_classes", 2), 1)


NETWORKS = {"highres3dnet": highres3dnet, "unet_2d": unet_2d, "dense_vnet": dense_vnet, "unet": unet, "toynet": toynet}


def dice_plus_xent(labels, logits):
    """NiftyNet's DicePlusXEnt per batch item, then averaged: −mean over classes of soft Dice (no squares)
    + cross-entropy."""
    batch, classes = logits.shape[0], logits.shape[-1]
    logits = tf.reshape(logits, [batch, -1, classes])
    onehot = tf.one_hot(tf.reshape(labels, [batch, -1]), classes)
    p = tf.nn.softmax(logits)
    dice = (2 * tf.reduce_sum(onehot * p, 1) + 1e-5) / (tf.reduce_sum(p, 1) + tf.reduce_sum(onehot, 1) + 1e-5)
    xent = -tf.reduce_mean(tf.reduce_sum(onehot * tf.nn.log_softmax(logits), -1), 1)
    return tf.reduce_mean(-dice) + tf.reduce_mean(xent)


def build(cfg):
    global DIMS
    DIMS = len(cfg["spatial"])
    inp = L.Input(shape=(*cfg["spatial"], cfg["params"].get("in_channels", 1)), batch_size=cfg["batch"])
    return tf.keras.Model(inp, NETWORKS[cfg["network"]](inp, cfg["params"]))


def counts(model):
    """What training.ts checks against thaw's network: trainable variables (count, size, shapes) and output size."""
    shapes = [[int(d) for d in v.shape] for v in model.trainable_variables]
    return {"trainable_vars": len(shapes), "trainable_size": int(sum(np.prod(s) for s in shapes)),
            "trainable_shapes": sorted(shapes), "output_size": [int(d) for d in model.output.shape[1:-1]]}


def bench(cfg, modes):
    model = build(cfg)
    opt = tf.keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(cfg["batch"], *cfg["spatial"], 1)).astype(np.float32))
    out_size = model.output.shape[1:-1]
    y = tf.constant((rng.random((cfg["batch"], *out_size)) > 0.7).astype(np.int32))

    def step():
        with tf.GradientTape() as tape:
            loss = dice_plus_xent(y, model(x, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    runs = {"graph": ("graph_ms", tf.function(step), cfg["steps"]), "jit": ("jit_ms", tf.function(step, jit_compile=True), cfg["steps"]),
            # Eager is op by op like thaw's tfjs engine, and slow: fewer steps suffice for its median.
            "eager": ("eager_ms", step, min(cfg["steps"], 3))}
    result = {"name": cfg["name"], **counts(model)}
    for label, fn, steps in (runs[m] for m in modes):
        times = []
        for i in range(cfg["warmup"] + steps):
            t0 = time.perf_counter()
            float(fn())
            if i >= cfg["warmup"]:
                times.append((time.perf_counter() - t0) * 1000)
        result[label] = float(np.median(times))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


if __name__ == "__main__":
    count_only = "--count" in sys.argv
    modes = [sys.argv[sys.argv.index("--mode") + 1]] if "--mode" in sys.argv else ["graph", "eager", "jit"]
    with open(sys.argv[-1]) as f:
        configs = json.load(f)
    if count_only:
        print(json.dumps([{"name": c["name"], **counts(build(c))} for c in configs]))
    else:
        print(json.dumps([bench(c, modes) for c in configs]))
