"""Reads .ini files with Python's configparser exactly as NiftyNet does (NiftyNetLaunchConfig is a plain
ConfigParser): prints, per file, either its sections with every key's value (DEFAULT's included, interpolated) or
the name of the exception configparser raised. Args: the files."""
import configparser
import json
import sys

out = []
for name in sys.argv[1:]:
    config = configparser.ConfigParser()
    try:
        config.read([name])
        sections = [[s, [[k, v] for k, v in config.items(s)]] for s in config.sections()]
        out.append({'file': name, 'sections': sections})
    except configparser.Error as err:
        out.append({'file': name, 'error': type(err).__name__})
print(json.dumps(out))
