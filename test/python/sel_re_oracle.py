"""Python `re` as the reference for thaw's pattern translation: reads {"patterns": [...], "names": [...]} from the JSON
file given as argument and prints, per pattern, {"error": message or null, "timeout": bool, "matches": [bool per name]}
(re.search semantics). Random patterns can backtrack catastrophically in Python too: each gets at most 2 seconds."""
import json
import re
import signal
import sys
import warnings

warnings.simplefilter("ignore")  # FutureWarning for possible set operations: still valid patterns
TIME_LIMIT_S = 2.0


class Timeout(Exception):
    pass


def on_alarm(*_):
    raise Timeout()


def answer(pattern, names):
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as err:
        return {"error": str(err), "timeout": False, "matches": []}
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        matches = [compiled.search(name) is not None for name in names]
    except Timeout:
        return {"error": None, "timeout": True, "matches": []}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {"error": None, "timeout": False, "matches": matches}


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    json.dump([answer(p, request["names"]) for p in request["patterns"]], sys.stdout)


if __name__ == "__main__":
    main()
