"""The real NiftyNet fixtures (shared/fixtures/niftynet/) as TensorFlow and Python see them, for
test/niftynet-fixtures.test.ts. One job per process, chosen by the first argument; the answer is one JSON line.

  standin LISTING PREFIX SEED
      Writes a complete stand-in for a checkpoint whose data shard is not available: every `name [shape]` line of
      LISTING (tf.train.list_variables of the real index) becomes a float32 variable with reproducible random values,
      saved by tf.compat.v1.train.Saver as PREFIX (index + data; no .meta, no state file: the test copies the real
      ones). Values are as a trained network has them (variances and Adam's second moments positive).
  regex NET_VARS PATTERNS_JSON
      NiftyNet's selection rule on a real listing (python tuple lines "('name', [shape])"): for each pattern, the names
      `re.compile(pattern).search(name + ':0')` matches (niftynet/engine/handler_model.py). No TensorFlow.
  niftynet META STANDIN THAW INPUT OUTPUT
      NiftyNet's own graph (the real .meta, import_meta_graph with clear_devices=True) restores thaw's checkpoint THAW:
      first with a Saver over its 189 network variables (global variables that are not optimiser state), then with one
      over all its global variables; a missing key or a shape mismatch fails the job. Reports which variables differ
      between STANDIN and THAW, and runs NiftyNet's forward pass (training mode, as the graph was built) on INPUT
      (raw float32, shape [2, 16, 16, 16, 1]) with THAW's weights, writing the logits to OUTPUT.
"""
import ast
import json
import re
import sys

OPTIMIZER_STATE = re.compile(r"(/Adam(_1)?$)|(^ApplyGradients/)")


def read_listing(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            m = re.match(r"^(\S+) \[([0-9, ]*)\]$", line)
            if not m:
                raise SystemExit(f"{path}: not a `name [shape]` line: {line!r}")
            shape = [int(d) for d in m.group(2).split(",") if d.strip()]
            out.append((m.group(1), shape))
    return out


def standin(listing_path, prefix, seed):
    import numpy as np
    from niftynet_shim import tf

    rng = np.random.default_rng(int(seed))
    listing = read_listing(listing_path)
    with tf.Graph().as_default():
        variables = {}
        for name, shape in listing:
            n = int(np.prod(shape)) if shape else 1
            if name.endswith("/Adam_1") or "moving_variance" in name:
                value = 0.5 + rng.random(n)
            elif name.endswith("local_step"):
                value = np.full(n, 5.0)
            elif name.startswith("ApplyGradients/beta"):
                value = np.full(n, 0.9 ** 5 if "beta1" in name else 0.999 ** 5)
            elif name.endswith("/gamma"):
                value = 0.5 + rng.random(n)
            elif len(shape) > 1:
                value = rng.standard_normal(n) * np.sqrt(2.0 / np.prod(shape[:-1]))
            else:
                value = 0.1 * rng.standard_normal(n)
            variables[name] = tf.Variable(value.astype(np.float32).reshape(shape), name=name.replace("/", "_"))
        saver = tf.train.Saver(var_list=variables)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, prefix, write_meta_graph=False, write_state=False)
    print(json.dumps({"variables": len(listing)}))


def regex(net_vars_path, patterns_path):
    with open(net_vars_path) as f:
        listing = [ast.literal_eval(line) for line in f if line.strip()]
    with open(patterns_path) as f:
        patterns = json.load(f)
    names = [name for name, _ in listing]
    matches = {p: [n for n in names if re.compile(p).search(n + ":0")] for p in patterns}
    print(json.dumps({"listing": [[n, list(s)] for n, s in listing], "matches": matches}))


def niftynet(meta, standin_prefix, thaw_prefix, input_path, output_path):
    import numpy as np
    from niftynet_shim import tf

    image = np.fromfile(input_path, dtype=np.float32).reshape([2, 16, 16, 16, 1])
    graph = tf.Graph()
    with graph.as_default():
        # The graph's input is the sampler queue's output `worker_0/cond/Merge:0`, statically [4, 64, 64, 64, 1] (the
        # training batch it was built for): feeding it a smaller volume is refused, so it is replaced by a placeholder
        # of any spatial size; every op after it is NiftyNet's own.
        x = tf.placeholder(tf.float32, [None, None, None, None, 1], name="thaw_input")
        tf.train.import_meta_graph(meta, clear_devices=True, input_map={"worker_0/cond/Merge:0": x})
        logits = graph.get_tensor_by_name("worker_0/HighRes3DNet/conv_2_bn/bn_/batch_norm/add_1:0")
        everything = tf.global_variables()
        network = [v for v in everything if not OPTIMIZER_STATE.search(v.op.name)]
        with tf.Session() as sess:
            tf.train.Saver(var_list=network).restore(sess, thaw_prefix)
            tf.train.Saver(var_list=everything).restore(sess, thaw_prefix)
            values = dict(zip([v.op.name for v in everything], sess.run(everything)))
            out = sess.run(logits, {x: image})
    out.astype(np.float32).tofile(output_path)
    before = tf.train.load_checkpoint(standin_prefix)
    changed = sorted(n for n, v in values.items() if not np.array_equal(before.get_tensor(n), v))
    print(json.dumps({
        "global": len(everything), "network": len(network), "changed": changed,
        "output_shape": list(out.shape), "finite": bool(np.isfinite(out).all()),
    }))


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    {"standin": standin, "regex": regex, "niftynet": niftynet}[job](*args)
