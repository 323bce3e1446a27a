"""NiftyNet 0.6.0's own search for one input section without a csv_file, as its ImageSetsPartitioner runs it:
KeywordsMatching.from_dict over the section's keys, then match_and_write_filenames_to_csv([matcher], csv). Args: a
JSON file holding a list of sections (path_to_search, filename_contains, ... as NiftyNet's parser gives them: strings
or tuples); prints, per section, the [subject_id, file] rows NiftyNet writes, or the error it raises."""
import json
import os
import sys
import tempfile

import niftynet_shim  # noqa: F401  (registers niftynet without running its __init__)
from niftynet.utilities.filename_matching import KeywordsMatching
from niftynet.utilities.util_csv import match_and_write_filenames_to_csv

with open(sys.argv[1]) as f:
    sections = json.load(f)
out = []
for section in sections:
    spec = {k: (tuple(v) if isinstance(v, list) else v) for k, v in section.items()}
    csv_file = os.path.join(tempfile.mkdtemp(), 'section.csv')
    try:
        rows = match_and_write_filenames_to_csv([KeywordsMatching.from_dict(spec)], csv_file)
        out.append({'rows': [[r[0], r[1]] for r in rows]})
    except (IOError, ValueError) as err:
        out.append({'error': f'{type(err).__name__}: {err}'})
print(json.dumps(out))
