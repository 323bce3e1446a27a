"""Writes a NiftyNet-style TF1 checkpoint for the selection tests, as a NiftyNet stage that froze part of the network
leaves it: DenseVNet/conv_1 and DenseVNet/conv_2 (with batch norm) were restored and frozen, DenseVNet/skip_conv and
DenseVNet/fin_conv were trained with Adam, so only the latter have Adam slots. Also beta1_power, beta2_power and
global_step, exactly as tf.compat.v1.train.AdamOptimizer and Saver write them.

usage: sel_niftynet_checkpoint.py MODEL_DIR ITERATION
Prints the checkpoint's variables as JSON ([{name, dtype, shape}], sorted by name).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
tf1.disable_eager_execution()


def conv_bn(name, shape):
    """A conv layer with batch norm, NiftyNet-style: w, bn_/{beta,gamma} trainable, moving statistics not."""
    with tf1.variable_scope(name):
        w = tf1.get_variable("w", shape)
        with tf1.variable_scope("bn_"):
            beta = tf1.get_variable("beta", shape[-1:], initializer=tf1.zeros_initializer())
            gamma = tf1.get_variable("gamma", shape[-1:], initializer=tf1.ones_initializer())
            tf1.get_variable("moving_mean", shape[-1:], initializer=tf1.zeros_initializer(), trainable=False)
            tf1.get_variable("moving_variance", shape[-1:], initializer=tf1.ones_initializer(), trainable=False)
    return [w, beta, gamma]


def conv_bias(name, shape):
    with tf1.variable_scope(name):
        return [tf1.get_variable("w", shape), tf1.get_variable("b", shape[-1:], initializer=tf1.zeros_initializer())]


def main(model_dir, iteration):
    graph = tf1.Graph()
    with graph.as_default():
        tf1.set_random_seed(0)
        with tf1.variable_scope("DenseVNet"):
            frozen = conv_bn("conv_1", [3, 3, 1, 4]) + conv_bn("conv_2", [3, 3, 4, 4])
            trained = conv_bias("skip_conv", [1, 1, 4, 4]) + conv_bias("fin_conv", [1, 1, 4, 2])
        global_step = tf1.train.get_or_create_global_step()
        loss = tf1.add_n([tf1.reduce_sum(tf1.square(v)) for v in frozen + trained])
        train = tf1.train.AdamOptimizer(1e-3).minimize(loss, var_list=trained, global_step=global_step)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train)
            sess.run(global_step.assign(iteration))
            os.makedirs(os.path.join(model_dir, "models"), exist_ok=True)
            saver.save(sess, os.path.join(model_dir, "models", "model.ckpt"), global_step=iteration)
    prefix = os.path.join(model_dir, "models", f"model.ckpt-{iteration}")
    reader = tf1.train.NewCheckpointReader(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    shapes = reader.get_variable_to_shape_map()
    listing = [{"name": n, "dtype": dtypes[n].name, "shape": shapes[n]} for n in sorted(shapes)]
    json.dump(listing, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
