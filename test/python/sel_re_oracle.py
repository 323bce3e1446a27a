"""Python `re` as the reference for thaw's pattern translation: reads {"patterns": [...], "names": [...]} from the JSON file
given as argument and prints, per pattern, {"error": message or null, "matches": [bool per name]} (re.search semantics)."""
import json
import re
import sys
import warnings

warnings.simplefilter("ignore")  # FutureWarning for possible set operations: still valid patterns


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    out = []
    for pattern in request["patterns"]:
        try:
            compiled = re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as err:
            out.append({"error": str(err), "matches": []})
            continue
        out.append({"error": None, "matches": [compiled.search(name) is not None for name in request["names"]]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
