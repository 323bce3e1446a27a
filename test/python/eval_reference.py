"""NiftyNet's own evaluation as the reference for `thaw eval`: the `dice` and `jaccard` of NiftyNet 0.6.0's evaluation
action (niftynet.evaluation.segmentation_evaluations, a confusion matrix per class of the binarised images).

usage: eval_reference.py OUT_DIR     (stdout: one JSON object)
Writes, with nibabel, segmentations named as NiftyNet's inference writes them (window_seg_<case>_niftynet_out.nii.gz;
one as [x, y, z, 1, classes] probabilities, one as a 5-D [x, y, z, 1, 1] label map) into OUT_DIR/segs and label maps
<case>_label.nii.gz into OUT_DIR/labels (plus one case without a segmentation), then gives NiftyNet's
dice and jaccard per case and class (NaN where a class is in neither: null here). PairwiseMeasures is not used: on
boolean masks its Dice divides by the union (ref + seg is a logical or), giving values above 1.
"""
import json
import math
import os
import sys

import niftynet_shim  # noqa: F401  (NiftyNet 0.6.0 under TF 2: must come before niftynet)
import nibabel as nib
import numpy as np
from niftynet.evaluation.segmentation_evaluations import dice, jaccard

NUM_CLASSES = 4


def metric_of(evaluation, seg, ref):
    """The metric NiftyNet's evaluation action computes for one class's binary masks (no reader or app needed)."""
    return evaluation.__new__(evaluation).metric_from_binarized(seg, ref)


def affine(rotation_deg, offset, zooms):
    t = math.radians(rotation_deg)
    a = np.eye(4)
    a[:3, :3] = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]]) @ np.diag(zooms)
    a[:3, 3] = offset
    return a


def main(out):
    rng = np.random.default_rng(20261203)
    os.makedirs(os.path.join(out, "segs"), exist_ok=True)
    os.makedirs(os.path.join(out, "labels"), exist_ok=True)
    cases = {}
    specs = [
        ("caseA", (9, 8, 7), affine(30, [10, -4, 2], [1.0, 1.2, 2.0]), "labels", np.int16),
        ("caseB", (6, 7, 5), affine(0, [0, 0, 0], [0.8, 0.8, 1.5]), "probabilities", np.float32),
        ("caseC", (5, 6, 4), affine(-12, [3, 3, 3], [1.0, 1.0, 1.0]), "labels5d", np.uint8),
    ]
    for name, shape, aff, kind, dtype in specs:
        label = rng.integers(0, 3, size=shape)  # classes 0-2; class 3 is in neither (undefined)
        seg = label.copy()
        flip = rng.random(shape) < 0.3
        seg[flip] = rng.integers(0, NUM_CLASSES - 1, size=int(flip.sum()))
        if name == "caseA":
            seg[0, 0, 0] = 3  # class 3 in the segmentation only: Dice 0
        if kind == "probabilities":
            probs = rng.random(shape + (1, NUM_CLASSES)).astype(np.float32) * 0.5
            for k in range(NUM_CLASSES):
                probs[..., 0, k][seg == k] += 1.0
            seg_img = nib.Nifti1Image(probs, aff)
        elif kind == "labels5d":
            seg_img = nib.Nifti1Image(seg.astype(dtype).reshape(shape + (1, 1)), aff)
        else:
            seg_img = nib.Nifti1Image(seg.astype(dtype), aff)
        nib.save(seg_img, os.path.join(out, "segs", f"window_seg_{name}_niftynet_out.nii.gz"))
        nib.save(nib.Nifti1Image(label.astype(np.uint8).reshape(shape + (1, 1)) if kind == "labels5d" else label.astype(np.int16), aff),
                 os.path.join(out, "labels", f"{name}_label.nii.gz"))
        per_class = []
        for k in range(NUM_CLASSES):
            with np.errstate(invalid="ignore", divide="ignore"):
                d, j = (float(metric_of(m, seg == k, label == k)) for m in (dice, jaccard))
            per_class.append({"class": k, "dice": None if math.isnan(d) else d, "jaccard": None if math.isnan(j) else j})
        cases[name] = per_class
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), os.path.join(out, "labels", "caseD_label.nii.gz"))
    write_bad_pairs(os.path.join(out, "bad"))
    sys.stdout.write(json.dumps({"num_classes": NUM_CLASSES, "cases": cases}) + "\n")


def write_bad_pairs(out):
    """One folder per mistake: bad/<kind>/segs and bad/<kind>/labels, case "x"."""
    ones = np.ones((5, 6, 4), np.int16)
    bad = {
        "grid": (ones, np.eye(4), np.ones((5, 6, 5), np.int16), np.eye(4)),
        "affine": (ones, np.eye(4), ones, affine(0, [0, 0, 7.5], [1, 1, 1])),
        "not-classes": (ones, np.eye(4), np.full((5, 6, 4), 0.5, np.float32), np.eye(4)),
    }
    for kind, (seg, seg_aff, label, label_aff) in bad.items():
        for sub in ("segs", "labels"):
            os.makedirs(os.path.join(out, kind, sub), exist_ok=True)
        nib.save(nib.Nifti1Image(seg, seg_aff), os.path.join(out, kind, "segs", "x_seg.nii.gz"))
        nib.save(nib.Nifti1Image(label, label_aff), os.path.join(out, kind, "labels", "x_label.nii.gz"))
    os.makedirs(os.path.join(out, "orphan", "segs"), exist_ok=True)
    os.makedirs(os.path.join(out, "orphan", "labels"), exist_ok=True)
    nib.save(nib.Nifti1Image(ones, np.eye(4)), os.path.join(out, "orphan", "segs", "y_seg.nii.gz"))
    nib.save(nib.Nifti1Image(ones, np.eye(4)), os.path.join(out, "orphan", "labels", "x_label.nii.gz"))


if __name__ == "__main__":
    main(sys.argv[1])
