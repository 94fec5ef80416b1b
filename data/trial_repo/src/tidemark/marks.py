"""High and low water marks per station."""

from collections import defaultdict


def water_marks(readings):
    """{station: (lowest height, highest height)} over all readings."""
    heights = defaultdict(list)
    for reading in readings:
        heights[reading.station].append(reading.height_m)
    return {station: (min(values), max(values)) for station, values in heights.items()}
