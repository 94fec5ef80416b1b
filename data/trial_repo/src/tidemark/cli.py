"""The `tidemark report LOG` command."""

import sys

from tidemark.gauge import read_log
from tidemark.marks import water_marks


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "report":
        print("usage: tidemark report LOG.csv", file=sys.stderr)
        return 2
    for station, (low, high) in sorted(water_marks(read_log(args[1])).items()):
        print(f"{station}: low {low:.2f} m, high {high:.2f} m")
    return 0
