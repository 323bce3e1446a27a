"""nibabel as the reference reader of NIfTI files thaw writes (no TensorFlow: starts fast).

usage: nifti_tools.py JOBS.json     (stdout: a JSON list, one result per job)
Jobs:
  {"kind": "describe", "file": NIfTI}
      -> what nibabel reads: shape, dtype, byte order, NIfTI version, affine (img.affine), qform/sform and their codes,
         pixdim, units, intent, descrip, cal_min/cal_max, scaling, and the voxels (get_fdata, F order) when small.
  {"kind": "compare", "a": NIfTI, "b": NIfTI}
      -> {"shape_a", "shape_b", "max_abs_diff", "differing": voxels that differ, "equal": bool}
  {"kind": "write_spatial", "file": NIfTI, "affine": 4x4, "qform_code": int, "sform_code": int}
      -> writes a small int16 image placed by `affine` through the qform and/or sform only (code 0: that one unset)
         and returns what nibabel reads back as img.affine
  {"kind": "write_pair", "image": NIfTI, "label": NIfTI, "shape": [X, Y, Z], "classes": int}
      -> writes a float32 image and a uint8 label map (values 0..classes-1) of that shape; returns the shape
  {"kind": "write_volume", "file": NIfTI, "shape": [...], "seed": int, "classes"?: int, "set"?: [[x, y, z, value]]}
      -> writes a float32 image of normal values drawn with `seed` or, given classes, a uint8 label map; `set`
         overwrites single voxels
  {"kind": "test_data"}
      -> {"dir": nibabel's own test data folder (small public NIfTI files), "files": its .nii / .nii.gz names}
"""
import glob
import json
import os
import sys

import nibabel as nib
import numpy as np


def job_describe(job):
    img = nib.load(job["file"])
    hdr = img.header
    qform, qcode = hdr.get_qform(coded=True)
    sform, scode = hdr.get_sform(coded=True)
    out = {
        "shape": list(img.shape), "dtype": str(hdr.get_data_dtype().newbyteorder("=")), "byteorder": hdr.endianness,
        "version": 2 if isinstance(img, nib.Nifti2Image) else 1,
        "affine": img.affine.tolist(),
        "qform": None if qform is None else qform.tolist(), "qform_code": int(qcode),
        "sform": None if sform is None else sform.tolist(), "sform_code": int(scode),
        "pixdim": [float(p) for p in hdr["pixdim"]], "xyzt_units": int(hdr["xyzt_units"]),
        "intent_code": int(hdr["intent_code"]), "intent_name": hdr["intent_name"].item().decode("latin1"),
        "descrip": hdr["descrip"].item().decode("latin1"),
        "cal_min": float(hdr["cal_min"]), "cal_max": float(hdr["cal_max"]),
        "slope_inter": [None if v is None else float(v) for v in hdr.get_slope_inter()],
    }
    if int(np.prod(img.shape)) <= job.get("max_values", 200000):
        out["values"] = np.asarray(img.get_fdata(), dtype=np.float64).flatten(order="F").tolist()
    return out


def job_compare(job):
    a = np.asarray(nib.load(job["a"]).get_fdata(), dtype=np.float64)
    b = np.asarray(nib.load(job["b"]).get_fdata(), dtype=np.float64)
    result = {"shape_a": list(a.shape), "shape_b": list(b.shape)}
    if a.shape != b.shape:
        return {**result, "equal": False}
    diff = np.abs(a - b)
    return {**result, "max_abs_diff": float(diff.max()), "differing": int((diff > 0).sum()), "equal": bool((diff == 0).all())}


def job_write_spatial(job):
    img = nib.Nifti1Image(np.zeros((3, 4, 5), np.int16), None)
    affine = np.array(job["affine"], dtype=np.float64)
    img.header.set_qform(affine if job["qform_code"] else None, code=int(job["qform_code"]))
    img.header.set_sform(affine if job["sform_code"] else None, code=int(job["sform_code"]))
    nib.save(img, job["file"])
    return {"affine": nib.load(job["file"]).affine.tolist()}


def job_write_pair(job):
    shape = tuple(job["shape"])
    rng = np.random.default_rng(0)
    nib.save(nib.Nifti1Image(rng.normal(size=shape).astype(np.float32), np.eye(4)), job["image"])
    nib.save(nib.Nifti1Image(rng.integers(0, job["classes"], size=shape).astype(np.uint8), np.eye(4)), job["label"])
    return {"shape": list(shape)}


def job_write_volume(job):
    """One float image (normal values from `seed`) or, with `classes`, a label map of class indices."""
    shape = tuple(job["shape"])
    rng = np.random.default_rng(job.get("seed", 0))
    if "classes" in job:
        data = rng.integers(0, job["classes"], size=shape).astype(np.uint8)
    else:
        data = rng.normal(size=shape).astype(np.float32)
    for x, y, z, value in job.get("set", []):
        data[x, y, z] = value
    nib.save(nib.Nifti1Image(data, np.eye(4)), job["file"])
    return {"shape": list(shape)}


def job_test_data(_job):
    folder = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(folder, "*.nii*")) if not f.endswith(".dconn.nii"))
    return {"dir": folder, "files": names}


JOBS = {"describe": job_describe, "compare": job_compare, "write_spatial": job_write_spatial, "write_pair": job_write_pair, "write_volume": job_write_volume, "test_data": job_test_data}

if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    sys.stdout.write(json.dumps([JOBS[job["kind"]](job) for job in jobs]) + "\n")
