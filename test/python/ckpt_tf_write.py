"""Writes reference checkpoints with real TensorFlow for thaw's checkpoint tests, and dumps what TensorFlow reads back.

Usage: ckpt_tf_write.py OUTDIR
Writes under OUTDIR:
  tf1/models/model.ckpt-{1,2}.*  TF1 Saver (Adam slots, global_step, partitioned variables, `checkpoint` state file)
  tf2/ckpt-1.*                   TF2 object-based tf.train.Checkpoint
  dtypes/all                     every dtype thaw supports (raw SaveV2), incl. empty and binary strings, zero-size
  many/many                      10,000 variables (an .index with more than one data block)
and prints JSON {prefix: dump} where dump is what TensorFlow's own reader lists and reads (see dump_checkpoint).
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf

from ckpt_common import dump_checkpoint

out = sys.argv[1]


def tf1_saver():
    models = os.path.join(out, "tf1", "models")
    os.makedirs(models, exist_ok=True)
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.set_random_seed(1)
        x = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
        w = tf.compat.v1.get_variable("net/conv_1/w", shape=[4, 5])
        b = tf.compat.v1.get_variable("net/conv_1/b", shape=[5], initializer=tf.compat.v1.ones_initializer())
        part0 = tf.compat.v1.get_variable(
            "net/part_rows", shape=[10, 3], partitioner=tf.compat.v1.fixed_size_partitioner(3))
        part1 = tf.compat.v1.get_variable(
            "net/part_cols", shape=[2, 7], partitioner=tf.compat.v1.fixed_size_partitioner(2, axis=1))
        counter = tf.compat.v1.get_variable("net/counter", shape=[], dtype=tf.int32,
                                            initializer=tf.compat.v1.constant_initializer(41), trainable=False)
        step = tf.compat.v1.train.get_or_create_global_step()
        loss = (tf.reduce_sum(tf.matmul(x, w) + b) + tf.reduce_sum(tf.concat(list(part0), 0) ** 2)
                + tf.reduce_sum(tf.concat(list(part1), 1) ** 2))
        train = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
        saver = tf.compat.v1.train.Saver(save_relative_paths=True)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(train)
            saver.save(sess, os.path.join(models, "model.ckpt"), global_step=step)
            sess.run(train)
            sess.run(counter.assign(42))
            saver.save(sess, os.path.join(models, "model.ckpt"), global_step=step)
    return [os.path.join(models, "model.ckpt-1"), os.path.join(models, "model.ckpt-2")]


def tf2_object():
    class Block(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(tf.reshape(tf.range(6, dtype=tf.float32), [2, 3]))
            self.bias = tf.Variable([0.5, -0.25, 1e-30], dtype=tf.float32)

    ckpt = tf.train.Checkpoint(block=Block(), steps=tf.Variable(7, dtype=tf.int64),
                               scale=tf.Variable(np.float64(3.25)))
    return [ckpt.save(os.path.join(out, "tf2", "ckpt"))]


def all_dtypes():
    rng = np.random.default_rng(3)
    t = {
        "float16": tf.constant(rng.standard_normal((2, 3)).astype(np.float16)),
        "bfloat16": tf.cast(tf.constant(rng.standard_normal((5,)).astype(np.float32)), tf.bfloat16),
        "float32": tf.constant(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], np.float32)),
        "float64": tf.constant(rng.standard_normal((2, 2, 2))),
        "int8": tf.constant(np.array([-128, 0, 127], np.int8)),
        "int16": tf.constant(np.array([-32768, 1, 32767], np.int16)),
        "int32": tf.constant(np.array([[-2**31, 0], [5, 2**31 - 1]], np.int32)),
        "int64": tf.constant(np.array([-2**63, 2**53 + 1, 2**63 - 1], np.int64)),
        "uint8": tf.constant(np.array([0, 255], np.uint8)),
        "uint16": tf.constant(np.array([0, 65535], np.uint16)),
        "uint32": tf.constant(np.array([0, 2**32 - 1], np.uint32)),
        "uint64": tf.constant(np.array([0, 2**64 - 1], np.uint64)),
        "bool": tf.constant([[True, False, True]]),
        "complex64": tf.constant(np.array([1 + 2j, -3.5 - 0.25j], np.complex64)),
        "complex128": tf.constant(np.array([[1e300 + 1j]], np.complex128)),
        "string": tf.constant([b"", b"abc", bytes(range(256)), b"\x00\xff"]),
        "string_scalar": tf.constant(b"hello"),
        "zero_size": tf.zeros([0, 3], tf.float32),
        "scalar_int64": tf.constant(np.int64(-1)),
        "unicode/\u00e9t\u00e9/\U0001f600": tf.constant(1.0),
        "unicode/\uffff": tf.constant(2.0),
    }
    prefix = os.path.join(out, "dtypes", "all")
    names = sorted(t)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[t[n] for n in names])
    return [prefix]


def many():
    prefix = os.path.join(out, "many", "many")
    names = [f"net/layer_{i:05d}/conv/kernel" for i in range(10000)]
    tensors = tf.unstack(tf.range(10000, dtype=tf.float32))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    return [prefix]


prefixes = tf1_saver() + tf2_object() + all_dtypes() + many()
result = {p: dump_checkpoint(p) for p in prefixes}
result["_latest"] = {"tf1": tf.train.latest_checkpoint(os.path.join(out, "tf1", "models"))}
sys.stdout.write(json.dumps(result))
