"""TensorFlow side of bench/checkpoint.ts: times one checkpoint operation in this process and prints JSON.

Usage: checkpoint_tf.py list PREFIX | read PREFIX | write PREFIX TENSORS SIZE_MB
  list   tf.train.list_variables(PREFIX)
  read   tf.train.load_checkpoint(PREFIX) and get_tensor for every variable
  write  SaveV2 of TENSORS float32 tensors of SIZE_MB each (built in memory first, not timed)
Prints {"seconds", "rss_mb" (peak), "baseline_rss_mb" (peak after importing TensorFlow, before the operation)}.
"""
import json
import resource
import sys
import time

import numpy as np
import tensorflow as tf


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


op, prefix = sys.argv[1], sys.argv[2]
baseline = peak_rss_mb()
if op == "list":
    start = time.perf_counter()
    count = len(tf.train.list_variables(prefix))
elif op == "read":
    start = time.perf_counter()
    reader = tf.train.load_checkpoint(prefix)
    count = 0
    for name in sorted(reader.get_variable_to_shape_map()):
        count += reader.get_tensor(name).nbytes
elif op == "write":
    n, size_mb = int(sys.argv[3]), int(sys.argv[4])
    elements = size_mb * (1 << 20) // 4
    tensors = [tf.constant(np.full(elements, i, np.float32)) for i in range(n)]
    names = [f"net/layer_{i:03d}/kernel" for i in range(n)]
    start = time.perf_counter()
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * n, tensors=tensors)
    count = n
else:
    raise SystemExit(f"unknown op {op}")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline, "count": count}))
