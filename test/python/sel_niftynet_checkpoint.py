"""Writes the checkpoint of the selection tests with NiftyNet 0.6.0's own DenseVNet: the network built by NiftyNet's
class (through niftynet_shim, as niftynet_reference.py builds it), trained one Adam step with part of it frozen, the
way NiftyNet's segmentation application and ApplyGradients handler do it: the network under `worker_0`, the trainable
variables that vars_to_freeze matches (re.search on `name:0`) left out of the optimiser's var_list, so only the trained
ones get `<var>/Adam` and `<var>/Adam_1` slots; `ApplyGradients/beta1_power` and `beta2_power`; no global_step (the
iteration is only in the file name). Saved by tf.compat.v1's Saver as MODEL_DIR/models/model.ckpt-ITERATION.

usage: sel_niftynet_checkpoint.py MODEL_DIR ITERATION PARAMS_JSON VARS_TO_FREEZE
PARAMS_JSON: the network params as a thaw pipeline gives them (NiftyNet's DenseVNet hyper-parameters, in_channels,
num_classes). Prints, on the last line of stdout, JSON {"listing": [{name, dtype, shape}] (the checkpoint, sorted by
name, as tf.train.NewCheckpointReader lists it), "trained": [names the optimiser updated, in creation order]}.
"""
import json
import os
import re
import sys

import numpy as np

from niftynet_shim import tf  # noqa: E402  (must come before any niftynet import)
import niftynet_reference as reference  # noqa: E402

SPATIAL_SIZE = [8, 8, 8]


def main(model_dir, iteration, params, vars_to_freeze):
    reference._remember_dense_vnet_defaults()
    network = {"name": "dense_vnet", "params": params}
    freeze = re.compile(vars_to_freeze)
    num_classes = params.get("num_classes", 2)
    rng = np.random.RandomState(0)
    x = rng.normal(size=[1] + SPATIAL_SIZE + [params.get("in_channels", 1)]).astype(np.float32)
    y = rng.randint(0, num_classes, size=[1] + SPATIAL_SIZE + [1]).astype(np.int32)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        images = tf.placeholder(tf.float32, x.shape)
        labels = tf.placeholder(tf.int32, y.shape)
        with tf.name_scope("worker_0"):
            out = reference.build_network(network)(images, is_training=True, keep_prob=1.0)
            loss = reference.loss_function("Dice", num_classes)(prediction=out, ground_truth=labels)
        with tf.name_scope("Optimiser"):
            optimizer = tf.train.AdamOptimizer(1e-3)
        to_optimise = [v for v in tf.trainable_variables() if not freeze.search(v.name)]
        grads = optimizer.compute_gradients(loss, var_list=to_optimise, colocate_gradients_with_ops=True)
        with tf.name_scope("ApplyGradients"):
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, "worker_0")):
                train = optimizer.apply_gradients(grads)
        saver = tf.train.Saver(var_list=tf.global_variables())
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {images: x, labels: y})
            os.makedirs(os.path.join(model_dir, "models"), exist_ok=True)
            saver.save(sess, os.path.join(model_dir, "models", "model.ckpt"), global_step=iteration)
    prefix = os.path.join(model_dir, "models", f"model.ckpt-{iteration}")
    reader = tf.train.NewCheckpointReader(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    shapes = reader.get_variable_to_shape_map()
    listing = [{"name": n, "dtype": dtypes[n].name, "shape": shapes[n]} for n in sorted(shapes)]
    # NiftyNet prints layer summaries to stdout: the result goes last, on one line.
    sys.stdout.write("\n" + json.dumps({"listing": listing, "trained": [v.op.name for v in to_optimise]}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4])
