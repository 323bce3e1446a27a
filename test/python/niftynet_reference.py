"""NiftyNet 0.6.0 as the reference for thaw's networks: variable lists, forward passes, training steps and losses
computed by NiftyNet's own classes (see niftynet_shim.py for how they run under TF 2.21).

usage: niftynet_reference.py JOBS.json
JOBS.json is a list of jobs; stdout is a JSON list with one result per job. Arrays travel as raw little-endian
float32 / int32 files (`{"file": ..., "shape": [...]}`), weights as TensorFlow checkpoints (thaw writes them, NiftyNet's
Saver restores them: a missing or mis-shaped variable fails the job). Sessions run without Grappler's graph rewrites
(see `session`): each graph runs once, so optimising it costs more than it saves; the ops and their kernels are the
same.

A network is `{"name": <thaw network name>, "params": <the params the user gave>}`. Only params that were given are
set on NiftyNet's class, so a job with `{}` runs NiftyNet's own defaults, and `activation_function` defaults to
NiftyNet's [NETWORK] default, 'relu' (niftynet/utilities/user_parameters_default.py), as the application passes it.

Jobs:
  {"kind": "variables", "network": N, "spatial_size": [...]}
      -> [{"name", "shape", "dtype", "trainable"}] in creation order (tf.global_variables()).
  {"kind": "forward", "network": N, "checkpoint": PREFIX, "input": ARRAY,
   "passes": [{"training": bool, "output": FILE}, ...], "affine": ARRAY|null}
      -> [{"shape": [...]}, ...]; each pass's output is written to its FILE. The passes are calls of one network
         instance in one graph, as NiftyNet's application builds training and inference on shared variables (its
         layers are templates): the variables are made and restored once. `affine` fixes DenseVNet's random
         augmentation.
  {"kind": "step", "network": N, "checkpoint": PREFIX, "input": ARRAY, "labels": ARRAY, "loss_type": str,
   "optimizer": {"name": "adam"|"momentum"|"sgd", "lr", ...}, "vars_to_freeze": regex|null,
   "frozen_batch_norm": "batch"|"moving", "save": PREFIX, "affine": ARRAY|null}
      -> {"loss": float}; one NiftyNet training step (as segmentation_application + handler_gradient build it),
         then every variable saved to PREFIX.
  {"kind": "loss", "logits": ARRAY, "labels": ARRAY, "loss_type": str, "softmax": bool}
      -> {"loss": float} from niftynet.layer.loss_segmentation.LossFunction.
"""
import contextlib
import importlib
import json
import re
import sys

import numpy as np

from niftynet_shim import tf  # noqa: E402  (must come before any niftynet import)

NIFTYNET_DEFAULT_ACTIVATION = "relu"


def read_array(spec, dtype=np.float32):
    return np.fromfile(spec["file"], dtype=dtype).reshape(spec["shape"])


# -- thaw network name + given params -> NiftyNet class instance ---------------------------------------------------

def _highres_layers(net, params, tail):
    """HighRes3DNet's `layers` table: conv_0, res_1..3 (n_features, repeat), then the network's own tail layers."""
    layers = net.layers
    if "conv_0_features" in params:
        layers[0]["n_features"] = params["conv_0_features"]
    for i, f in enumerate(params.get("res_features", [])):
        layers[1 + i]["n_features"] = f
    if "res_repeat" in params:
        for i in (1, 2, 3):
            layers[i]["repeat"] = params["res_repeat"]
    for key, index in tail.items():
        if key in params:
            layers[index]["n_features"] = params[key]


def _set_attr(net, params, key, attr=None):
    if key in params:
        setattr(net, attr or key, params[key])


def _widths(attr):
    """A NiftyNet class whose widths are one attribute (`n_features`, UNet2D's `n_fea`) set from thaw's `n_features`."""
    return lambda net, params: _set_attr(net, params, "n_features", attr)


# thaw network name -> (NiftyNet module, class, how thaw's params beyond the constructor's reach the instance)
NETWORKS = {
    "highres3dnet": ("highres3dnet", "HighRes3DNet", lambda net, p: _highres_layers(net, p, {"conv_1_features": 4})),
    "highres3dnet_small": ("highres3dnet_small", "HighRes3DNetSmall", lambda net, p: _highres_layers(net, p, {"conv_1_features": 4})),
    "highres3dnet_large": ("highres3dnet_large", "HighRes3DNetLarge",
                           lambda net, p: _highres_layers(net, p, {"conv_1_features": 4, "conv_2_features": 5})),
    "toynet": ("toynet", "ToyNet", lambda net, p: _set_attr(net, p, "hidden_features")),
    "unet": ("unet", "UNet3D", _widths("n_features")),
    "unet_2d": ("unet_2d", "UNet2D", _widths("n_fea")),
    "vnet": ("vnet", "VNet", _widths("n_features")),
    "no_new_net": ("no_new_net", "UNet3D", _widths("n_features")),
}

DENSE_VNET_HYPERPARAMS = ["prior_size", "n_dense_channels", "n_seg_channels", "n_initial_conv_channels", "n_down_channels",
                          "dilation_rates", "seg_kernel_size", "augmentation_scale", "use_bdo", "use_prior",
                          "use_dense_connections", "use_coords"]


def build_network(network):
    name, params = network["name"], dict(network.get("params", {}))
    kwargs = {"num_classes": params.get("num_classes", 2),
              "acti_func": params.get("activation_function", NIFTYNET_DEFAULT_ACTIVATION)}
    if name == "dense_vnet":
        module = importlib.import_module("niftynet.network.dense_vnet")
        # DenseVNet.__init__ updates the class-level __hyper_params__ dict in place: start from a fresh copy each time.
        module.DenseVNet.__hyper_params__ = dict(_DENSE_VNET_DEFAULTS)
        return module.DenseVNet(hyperparams={k: params[k] for k in DENSE_VNET_HYPERPARAMS if k in params}, **kwargs)
    if name not in NETWORKS:
        raise SystemExit("no NiftyNet reference for network " + name)
    module, cls, configure = NETWORKS[name]
    net = getattr(importlib.import_module("niftynet.network." + module), cls)(**kwargs)
    configure(net, params)
    return net


_DENSE_VNET_DEFAULTS = None


def _remember_dense_vnet_defaults():
    global _DENSE_VNET_DEFAULTS
    module = importlib.import_module("niftynet.network.dense_vnet")
    _DENSE_VNET_DEFAULTS = {k: (list(v) if isinstance(v, list) else v) for k, v in module.DenseVNet.__hyper_params__.items()}


def input_placeholder(network, spatial_size, batch=1):
    channels = network.get("params", {}).get("in_channels", 1)
    return tf.placeholder(tf.float32, [batch] + list(spatial_size) + [channels], name="images")


@contextlib.contextmanager
def patched(owner, attribute, value):
    original = getattr(owner, attribute)
    setattr(owner, attribute, value)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def fixed_augmentation(affine):
    """DenseVNet's AffineAugmentationLayer draws a random transform per batch item: make it the given one."""
    if affine is None:
        return contextlib.nullcontext()
    from niftynet.layer import affine_augmentation
    value = read_array(affine)
    return patched(affine_augmentation.AffineAugmentationLayer, "_random_transform",
                   lambda self, batch_size, spatial_rank: tf.constant(value, tf.float32))


# -- batch norm of frozen layers in inference mode (thaw's default) ------------------------------------------------

def frozen_batch_norm_in_inference(frozen_scope):
    """BNLayer of a scope whose beta and gamma are frozen normalises with the moving statistics and updates nothing."""
    from niftynet.layer import bn
    original = bn.BNLayer.layer_op

    def layer_op(self, inputs, is_training, use_local_stats=False):
        scope = tf.get_variable_scope().name
        if not frozen_scope(scope):
            return original(self, inputs, is_training, use_local_stats)
        updates = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
        before = len(updates)
        out = original(self, inputs, False, use_local_stats)
        del updates[before:]
        return out

    return patched(bn.BNLayer, "layer_op", layer_op)


# -- jobs ------------------------------------------------------------------------------------------------------------

def job_variables(job):
    graph = tf.Graph()
    with graph.as_default():
        net = build_network(job["network"])
        net(input_placeholder(job["network"], job["spatial_size"]), is_training=True)
        trainable = {v.name for v in tf.trainable_variables()}
        return [{"name": v.op.name, "shape": v.shape.as_list(), "dtype": v.dtype.base_dtype.name,
                 "trainable": v.name in trainable} for v in tf.global_variables()]


def session(graph):
    """A session for one graph that runs once or twice: Grappler's rewrites off (they took half of a training step's
    time here, and left every loss and output bit for bit the same)."""
    config = tf.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    return tf.Session(graph=graph, config=config)


def _restore(sess, prefix):
    tf.train.Saver(var_list=tf.global_variables()).restore(sess, prefix)


def job_forward(job):
    graph = tf.Graph()
    with graph.as_default(), fixed_augmentation(job.get("affine")):
        x = read_array(job["input"])
        images = tf.placeholder(tf.float32, x.shape)
        net = build_network(job["network"])
        outs = [net(images, is_training=p["training"], keep_prob=1.0) for p in job["passes"]]
        with session(graph) as sess:
            _restore(sess, job["checkpoint"])
            ys = sess.run(outs, {images: x})
    for p, y in zip(job["passes"], ys):
        np.ascontiguousarray(y, dtype=np.float32).tofile(p["output"])
    return [{"shape": list(y.shape)} for y in ys]


def make_optimizer(spec):
    if spec["name"] == "adam":
        return tf.train.AdamOptimizer(spec["lr"], beta1=spec.get("beta1", 0.9), beta2=spec.get("beta2", 0.999),
                                      epsilon=spec.get("epsilon", 1e-8))
    if spec["name"] == "momentum":
        return tf.train.MomentumOptimizer(spec["lr"], momentum=spec.get("momentum", 0.9))
    if spec["name"] == "sgd":
        return tf.train.GradientDescentOptimizer(spec["lr"])
    raise SystemExit("unknown optimizer " + spec["name"])


def loss_function(loss_type, num_classes, softmax=True):
    from niftynet.layer.loss_segmentation import LossFunction
    return LossFunction(n_class=num_classes, loss_type=loss_type, softmax=softmax)


def job_step(job):
    graph = tf.Graph()
    freeze = re.compile(job["vars_to_freeze"]) if job.get("vars_to_freeze") else None
    bn_mode = contextlib.nullcontext()
    if freeze and job.get("frozen_batch_norm") == "moving":
        bn_mode = frozen_batch_norm_in_inference(lambda scope: bool(freeze.search(scope + "/beta:0")) and
                                                 bool(freeze.search(scope + "/gamma:0")))
    with graph.as_default(), fixed_augmentation(job.get("affine")), bn_mode:
        x = read_array(job["input"])
        y = read_array(job["labels"], np.int32)
        images = tf.placeholder(tf.float32, x.shape)
        labels = tf.placeholder(tf.int32, y.shape)
        network = job["network"]
        # As segmentation_application.connect_data_and_network: network under worker_0, loss, frozen vars excluded.
        with tf.name_scope("worker_0"):
            out = build_network(network)(images, is_training=True, keep_prob=1.0)
            num_classes = network.get("params", {}).get("num_classes", 2)
            loss = loss_function(job["loss_type"], num_classes)(prediction=out, ground_truth=labels)
        with tf.name_scope("Optimiser"):
            optimizer = make_optimizer(job["optimizer"])
        to_optimise = [v for v in tf.trainable_variables() if not (freeze and freeze.search(v.name))]
        grads = optimizer.compute_gradients(loss, var_list=to_optimise, colocate_gradients_with_ops=True)
        # As engine/handler_gradient.ApplyGradients: the batch-norm updates run before the gradient step.
        with tf.name_scope("ApplyGradients"):
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, "worker_0")):
                train = optimizer.apply_gradients(grads)
        restorable = [v for v in tf.global_variables() if not _is_new_optimizer_state(v)]
        with session(graph) as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(var_list=restorable).restore(sess, job["checkpoint"])
            _restore_optimizer_state(sess, job["checkpoint"])
            value, _ = sess.run([loss, train], {images: x, labels: y})
            tf.train.Saver(var_list=tf.global_variables()).save(sess, job["save"], write_meta_graph=False)
    return {"loss": float(value)}


def _is_new_optimizer_state(v):
    return "/Adam" in v.op.name or "/Momentum" in v.op.name or v.op.name.endswith("_power")


def _restore_optimizer_state(sess, prefix):
    """Optimiser state is restored by name where the checkpoint has it; the rest keeps its initial value."""
    reader = tf.train.NewCheckpointReader(prefix)
    for v in tf.global_variables():
        if _is_new_optimizer_state(v) and reader.has_tensor(v.op.name):
            v.load(reader.get_tensor(v.op.name), sess)


def job_loss(job):
    graph = tf.Graph()
    with graph.as_default():
        logits = read_array(job["logits"])
        labels = read_array(job["labels"], np.int32)
        value = loss_function(job["loss_type"], logits.shape[-1], job.get("softmax", True))(
            prediction=tf.constant(logits), ground_truth=tf.constant(labels))
        with session(graph) as sess:
            return {"loss": float(sess.run(value))}


JOBS = {"variables": job_variables, "forward": job_forward, "step": job_step, "loss": job_loss}


def main(path):
    _remember_dense_vnet_defaults()
    with open(path) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        results.append(JOBS[job["kind"]](job))
    # NiftyNet prints layer summaries to stdout: the results go last, on one line.
    sys.stdout.write("\n" + json.dumps(results) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
