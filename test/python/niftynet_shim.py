"""NiftyNet 0.6.0's network classes under TensorFlow 2.21's tf.compat.v1 (see shared/docs/niftynet-reference.md).

NiftyNet needs TensorFlow 1.x; its network and layer modules run on tf.compat.v1 once a few things it imports are
provided. This module does only that, so that the networks, layers and losses being compared are NiftyNet's own code,
installed by `npm run setup` (niftynet==0.6.0, --no-deps):
  - `niftynet` is registered as a bare package so that its __init__ (the whole application engine) never runs;
  - `tensorflow` is tf.compat.v1 with eager execution off, `tensorflow.python` stays the real module;
  - `tensorflow.contrib` provides what the networks call: framework.list_variables, and layers.instance_norm
    (NoNewNet), written after TF 1.x's contrib implementation: per-instance moments over the spatial axes, variables
    `InstanceNorm/beta` and `InstanceNorm/gamma`, then tf.nn.batch_normalization;
  - numpy's removed aliases `np.int` and `np.float`.

Import this module before anything from niftynet; use `tf` from here (the v1 API).
"""
import importlib.util
import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy  # noqa: E402
import tensorflow as _tf2  # noqa: E402
import tensorflow.python.training.moving_averages  # noqa: E402,F401  (NiftyNet imports it from tensorflow.python)

numpy.int = int
numpy.float = float

tf = _tf2.compat.v1
tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)
_tf_python = sys.modules["tensorflow.python"]


def _instance_norm(inputs, center=True, scale=True, epsilon=1e-6, activation_fn=None, param_initializers=None,
                   reuse=None, variables_collections=None, outputs_collections=None, trainable=True,
                   data_format="NHWC", scope=None):
    """tf.contrib.layers.instance_norm of TF 1.x for NHWC/NDHWC inputs."""
    assert data_format == "NHWC"
    param_initializers = param_initializers or {}
    with tf.variable_scope(scope, "InstanceNorm", [inputs], reuse=reuse):
        rank = inputs.shape.ndims
        params_shape = inputs.shape[-1:]
        beta = gamma = None
        if center:
            beta = tf.get_variable("beta", shape=params_shape, dtype=inputs.dtype,
                                   initializer=param_initializers.get("beta", tf.zeros_initializer()),
                                   trainable=trainable)
        if scale:
            gamma = tf.get_variable("gamma", shape=params_shape, dtype=inputs.dtype,
                                    initializer=param_initializers.get("gamma", tf.ones_initializer()),
                                    trainable=trainable)
        mean, variance = tf.nn.moments(inputs, list(range(1, rank - 1)), keep_dims=True)
        outputs = tf.nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon, name="instancenorm")
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def _install():
    contrib = types.ModuleType("tensorflow.contrib")
    framework = types.ModuleType("tensorflow.contrib.framework")
    framework.list_variables = tf.train.list_variables
    layers = types.ModuleType("tensorflow.contrib.layers")
    layers.instance_norm = _instance_norm
    data = types.ModuleType("tensorflow.contrib.data")
    contrib.framework, contrib.layers, contrib.data = framework, layers, data
    tf.contrib = contrib
    sys.modules.update({
        "tensorflow": tf,
        "tensorflow.python": _tf_python,
        "tensorflow.contrib": contrib,
        "tensorflow.contrib.framework": framework,
        "tensorflow.contrib.layers": layers,
        "tensorflow.contrib.data": data,
    })
    spec = importlib.util.find_spec("niftynet")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("niftynet 0.6.0 is not installed in this Python: run `npm run setup`")
    package = types.ModuleType("niftynet")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["niftynet"] = package


_install()
