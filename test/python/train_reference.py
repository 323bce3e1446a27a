"""Reference checks of thaw's training engine against TensorFlow (Python), batched in one process.

Usage: train_reference.py JOB.json   (prints one JSON object)
JOB: {"checkpoints": [prefix, ...],
      "optimizers": [{"name": "adam"|"momentum"|"sgd", "lr", "beta1", "beta2", "epsilon", "momentum",
                      "init": [floats], "grads": [[floats], ...]}]}
Output: {"checkpoints": {prefix: {"variables": {name: {"dtype", "shape", "sha256"}}, "saver_restored": n}},
         "optimizers": [{"var": [...], "slots": {name: [...]}}]}
"""
import hashlib
import json
import sys

import numpy as np
import tensorflow as tf


def describe_checkpoint(prefix):
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    variables = {}
    for name in sorted(shapes):
        value = np.ascontiguousarray(reader.get_tensor(name))
        variables[name] = {
            "dtype": dtypes[name].name,
            "shape": list(shapes[name]),
            "sha256": hashlib.sha256(value.astype(value.dtype.newbyteorder("<")).tobytes()).hexdigest(),
        }
    # A TF1 Saver restores every variable into a graph built with the same names, and the values match the reader.
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = [tf.compat.v1.get_variable(n, shape=shapes[n], dtype=dtypes[n], use_resource=False) for n in sorted(shapes)]
        saver = tf.compat.v1.train.Saver(var_list={v.op.name: v for v in tf_vars})
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            for v, value in zip(tf_vars, sess.run(tf_vars)):
                if not np.array_equal(value, reader.get_tensor(v.op.name)):
                    raise SystemExit(f"Saver restored {v.op.name} with different values")
    return {"variables": variables, "saver_restored": len(tf_vars)}


def run_optimizer(job):
    graph = tf.Graph()
    with graph.as_default():
        var = tf.compat.v1.get_variable("v", initializer=np.array(job["init"], dtype=np.float32), use_resource=False)
        grad = tf.compat.v1.placeholder(tf.float32, shape=[len(job["init"])])
        name = job["name"]
        if name == "adam":
            opt = tf.compat.v1.train.AdamOptimizer(job["lr"], job["beta1"], job["beta2"], job["epsilon"])
        elif name == "momentum":
            opt = tf.compat.v1.train.MomentumOptimizer(job["lr"], job["momentum"])
        else:
            opt = tf.compat.v1.train.GradientDescentOptimizer(job["lr"])
        train = opt.apply_gradients([(grad, var)])
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for g in job["grads"]:
                sess.run(train, {grad: np.array(g, dtype=np.float32)})
            slots = {}
            for slot in opt.get_slot_names():
                slots[slot] = sess.run(opt.get_slot(var, slot)).tolist()
            if name == "adam":
                b1, b2 = opt._get_beta_accumulators()
                slots["beta1_power"], slots["beta2_power"] = [float(x) for x in sess.run([b1, b2])]
            return {"var": sess.run(var).tolist(), "slots": slots}


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    out = {
        "checkpoints": {p: describe_checkpoint(p) for p in job.get("checkpoints", [])},
        "optimizers": [run_optimizer(o) for o in job.get("optimizers", [])],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
