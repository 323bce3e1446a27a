"""NiftyNet 0.6.0's window-centre samplers (engine/sampler_weighted_v2.py weighted_spatial_coordinates,
sampler_balanced_v2.py balanced_spatial_coordinates) on a label map, as histograms of window origins (centre minus
floor(window / 2)). Args: a JSON file {"map": flat int list (C order), "shape": [x, y, z], "window": [x, y, z],
"samples": n, "seed": s}. Prints {"weighted": {"x,y,z": count}, "balanced": {...}}. The samplers' module imports
the queue-based UniformSampler, which needs TF1's Keras; a stub stands in for that class only (the functions tested
do not use it)."""
import json
import sys
import types

import niftynet_shim  # noqa: F401
import numpy as np

stub = types.ModuleType('niftynet.engine.sampler_uniform_v2')
stub.UniformSampler = object
sys.modules['niftynet.engine.sampler_uniform_v2'] = stub
from niftynet.engine.sampler_balanced_v2 import balanced_spatial_coordinates  # noqa: E402
from niftynet.engine.sampler_weighted_v2 import weighted_spatial_coordinates  # noqa: E402

with open(sys.argv[1]) as f:
    job = json.load(f)
np.random.seed(job['seed'])
shape, window = tuple(job['shape']), np.asarray(job['window'])
sampling_map = np.asarray(job['map'], dtype=np.float64).reshape(shape)[..., None, None]
out = {}
for name, sampler in [('weighted', weighted_spatial_coordinates), ('balanced', balanced_spatial_coordinates)]:
    centres = sampler(job['samples'], shape, window, sampling_map)
    counts = {}
    for c in centres:
        key = ','.join(str(int(v)) for v in c - window // 2)
        counts[key] = counts.get(key, 0) + 1
    out[name] = counts
print(json.dumps(out))
