import unittest

from tidemark.gauge import Reading
from tidemark.marks import water_marks


class WaterMarksTest(unittest.TestCase):
    def test_low_and_high_per_station(self):
        readings = [Reading("t1", "dover", 1.5), Reading("t2", "dover", 6.2), Reading("t1", "calais", 2.0)]
        self.assertEqual(water_marks(readings), {"dover": (1.5, 6.2), "calais": (2.0, 2.0)})


if __name__ == "__main__":
    unittest.main()
