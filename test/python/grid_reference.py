"""NiftyNet 0.6.0's grid window starts (sampler_grid_v2.grid_spatial_coordinates) for thaw infer's tests.

usage: grid_reference.py CASES.json   (a list of {"image": [x,y,z], "window": [x,y,z], "border": [x,y,z]})
stdout: a JSON list, per case the window starts [[x, y, z], ...] in NiftyNet's order.
"""
import json
import sys
import types

from niftynet_shim import tf  # noqa: F401  (before any niftynet import)

# The sampler module imports its dataset base class from Keras internals TF 2.21 no longer has; the grid functions
# do not use it, so a stand-in base class lets NiftyNet's own module (and its numpy code) load unchanged.
_dataset = types.ModuleType("niftynet.engine.image_window_dataset")
_dataset.ImageWindowDataset = object
sys.modules["niftynet.engine.image_window_dataset"] = _dataset
from niftynet.engine.sampler_grid_v2 import grid_spatial_coordinates  # noqa: E402

out = []
for case in json.load(open(sys.argv[1])):
    coords = grid_spatial_coordinates(0, {"image": tuple(case["image"])}, {"image": tuple(case["window"])}, tuple(case["border"]))
    out.append(coords["image"][:, 1:4].tolist())
print(json.dumps(out))
