"""Reads checkpoints thaw wrote with real TensorFlow and prints what TensorFlow sees.

Usage: ckpt_tf_read.py SPEC.json, where SPEC = {"prefixes": [...], "meta": [...], "latest": [models dirs]}.
Prints JSON {"dumps": {prefix: dump}, "meta": {prefix: restore report}, "latest": {dir: tf.train.latest_checkpoint}}.
A restore report comes from tf.compat.v1.train.import_meta_graph(prefix.meta) + saver.restore: the variables the
graph holds, the trainable ones, and every restored value (hex bytes), which must equal the checkpoint's.
"""
import json
import sys

import tensorflow as tf

from ckpt_common import dump_checkpoint

spec = json.load(open(sys.argv[1]))


def restore_with_meta(prefix):
    g = tf.Graph()
    with g.as_default():
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, prefix)
            variables = tf.compat.v1.global_variables()
            values = {}
            for v, value in zip(variables, sess.run(variables)):
                name = v.op.name
                values[name] = ([bytes(s).hex() for s in value.reshape(-1).tolist()]
                                if v.dtype.base_dtype == tf.string else value.tobytes().hex())
            return {
                "variables": sorted(v.op.name for v in variables),
                "trainable": sorted(v.op.name for v in tf.compat.v1.trainable_variables()),
                "values": values,
            }


print(json.dumps({
    "dumps": {p: dump_checkpoint(p) for p in spec.get("prefixes", [])},
    "meta": {p: restore_with_meta(p) for p in spec.get("meta", [])},
    "latest": {d: tf.train.latest_checkpoint(d) for d in spec.get("latest", [])},
}))
