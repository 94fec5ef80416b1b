"""Reading tide-gauge logs: one Reading per CSV row."""

import csv
from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    timestamp: str
    station: str
    height_m: float


def read_log(path):
    """Every reading in a CSV log with the columns timestamp, station, height_m."""
    with open(path, newline="") as handle:
        return [Reading(row["timestamp"], row["station"], float(row["height_m"])) for row in csv.DictReader(handle)]
