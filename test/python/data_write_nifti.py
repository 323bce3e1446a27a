"""Writes NIfTI test files with nibabel (the reference writer) and prints a JSON manifest of what each holds.

Usage: data_write_nifti.py OUT_DIR
For every file the manifest gives its dims, datatype code, and the values nibabel's get_fdata() returns (scaling
applied), flattened in NIfTI file order (x fastest), so the TypeScript reader can be compared value by value.
Images are filled with distinct values so that a crop identifies its origin.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
manifest = {}


def save(img, name, record=True):
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nib.save(img, path)
    if not record:
        return
    back = nib.load(path)
    manifest[name] = {
        "dims": [int(d) for d in back.shape],
        "datatype": int(back.header["datatype"]),
        "values": np.asarray(back.get_fdata(), dtype=np.float64).flatten(order="F").tolist(),
    }


def distinct(shape, dtype, scale=1.0, offset=0.0):
    return (np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * scale + offset).astype(dtype)


def labels(shape, classes, dtype=np.uint8):
    rng = np.random.default_rng(0)
    return rng.integers(0, classes, size=shape).astype(dtype)


affine = np.eye(4)

# A 3-D float32 volume, gzip-compressed, with a uint8 label map (classes 0..3).
shape3 = (20, 18, 16)
save(nib.Nifti1Image(distinct(shape3, np.float32, 0.5, -100.0), affine), "glob/case1.nii.gz")
save(nib.Nifti1Image(labels(shape3, 4), affine), "glob/case1_label.nii.gz")

# int16 with scl_slope / scl_inter, uncompressed, and an int16 label map.
raw = distinct(shape3, np.int16, 1.0, -3000.0)
img = nib.Nifti1Image(raw, affine)
img.header.set_data_dtype(np.int16)
img.header.set_slope_inter(2.5, 10.0)
save(img, "glob/case2.nii")
save(nib.Nifti1Image(labels(shape3, 3, np.int16), affine), "glob/case2_label.nii")

# Big-endian header and data.
be = nib.Nifti1Image(distinct(shape3, ">f4", 0.25), affine, header=nib.Nifti1Header(endianness=">"))
save(be, "dtypes/bigendian.nii")

# More voxel types; NIfTI-2; a 2-D image; a 4-D image with two channels.
for dtype in ["uint8", "int8", "uint16", "int32", "float64"]:
    save(nib.Nifti1Image(distinct((7, 5, 3), dtype, 1.0, 0.0 if dtype.startswith("u") else -40.0), affine), f"dtypes/{dtype}.nii.gz")
save(nib.Nifti2Image(distinct((9, 8, 7), np.float32, 1.5), affine), "dtypes/nifti2.nii.gz")
save(nib.Nifti1Image(distinct((40, 30), np.uint16), affine), "flat/slice.nii")
save(nib.Nifti1Image(labels((40, 30), 2), affine), "flat/slice_label.nii")
save(nib.Nifti1Image(distinct((12, 11, 10, 2), np.float32), affine), "multi/mm.nii.gz")
save(nib.Nifti1Image(labels((12, 11, 10), 2), affine), "multi/mm_label.nii.gz")

# Broken pairs for error messages: a label of the wrong size, and a label with a fractional value.
save(nib.Nifti1Image(distinct((10, 10, 10), np.float32), affine), "mismatch/a.nii.gz")
save(nib.Nifti1Image(labels((10, 10, 9), 2), affine), "mismatch/a_label.nii.gz")
save(nib.Nifti1Image(distinct((10, 10, 10), np.float32), affine), "fractional/a.nii.gz")
save(nib.Nifti1Image(np.full((10, 10, 10), 0.5, dtype=np.float32), affine), "fractional/a_label.nii.gz")
save(nib.Nifti1Image(np.zeros((4, 4, 4), dtype=np.complex64), affine), "unsupported/complex.nii", record=False)

json.dump(manifest, sys.stdout)
