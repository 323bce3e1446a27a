"""Reads thaw's metrics back with the reference tools and prints JSON.

Usage: metrics_read_back.py MODEL_DIR SVG_FILE...
- events: every event file under MODEL_DIR/logs/<stage>/, read with tf.data.TFRecordDataset (which checks the
  framing CRCs) and decoded with tf.compat.v1.Event; the record count is cross-checked with summary_iterator.
- tensorboard: per stage, what TensorBoard's EventAccumulator shows for `loss` and `it_per_sec`;
  tensorboard_plugin: the same through the plugin accumulator that `tensorboard --logdir` serves scalars from.
- svg: per file, whether it parses as XML, its series (class="series", data-stage) and dashed boundary lines.
"""
import glob
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_accumulator  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

model_dir, svg_files = sys.argv[1], sys.argv[2:]


def finite_or_text(x):
    """JSON has no NaN or infinity: those travel as the strings 'nan', 'inf', '-inf'."""
    return x if math.isfinite(x) else str(x)


out = {"events": {}, "tensorboard": {}, "tensorboard_plugin": {}, "svg": {}}

for path in sorted(glob.glob(os.path.join(model_dir, "logs", "*", "events.out.tfevents.*"))):
    records = []
    for raw in tf.data.TFRecordDataset(path):
        ev = tf.compat.v1.Event.FromString(raw.numpy())
        rec = {"wall_time": ev.wall_time, "step": ev.step, "what": ev.WhichOneof("what")}
        if rec["what"] == "file_version":
            rec["file_version"] = ev.file_version
        elif rec["what"] == "summary":
            rec["values"] = {v.tag: finite_or_text(v.simple_value) for v in ev.summary.value}
        elif rec["what"] == "session_log":
            rec["status"] = tf.compat.v1.SessionLog.SessionStatus.Name(ev.session_log.status)
        records.append(rec)
    assert len(records) == sum(1 for _ in tf.compat.v1.train.summary_iterator(path)), path
    out["events"][os.path.relpath(path, model_dir)] = records

for run in sorted(glob.glob(os.path.join(model_dir, "logs", "*", ""))):
    acc = EventAccumulator(run)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    out["tensorboard"][os.path.basename(os.path.dirname(run))] = {
        tag: [[e.step, finite_or_text(e.value)] for e in acc.Scalars(tag)] for tag in tags
    }

    plugin = plugin_event_accumulator.EventAccumulator(run)
    plugin.Reload()
    out["tensorboard_plugin"][os.path.basename(os.path.dirname(run))] = {
        tag: [[e.step, finite_or_text(float(tensor_util.make_ndarray(e.tensor_proto)))] for e in plugin.Tensors(tag)]
        for tag in plugin.Tags()["tensors"]
    }

SVG = "{http://www.w3.org/2000/svg}"
for path in svg_files:
    root = ET.parse(path).getroot()
    series = [g.get("data-stage") for g in root.iter(SVG + "g") if g.get("class") == "series"]
    dashed = [ln for ln in root.iter(SVG + "line") if ln.get("stroke-dasharray")]
    polylines = sum(len(list(g.iter(SVG + "polyline"))) for g in root.iter(SVG + "g") if g.get("class") == "series")
    out["svg"][path] = {"root": root.tag, "series": series, "dashed_lines": len(dashed), "polylines": polylines}

json.dump(out, sys.stdout, allow_nan=False)
