"""The wheel's build: setuptools as pyproject.toml configures it, plus what a first run would derive.

After the package is copied into the build folder, fitadvisor/flows/prederive.py runs over that copy and
writes fitadvisor/derived/ there (the parsed tables, the catalog's sizes, the compute-graph replays), as
pip compiles bytecode at install: a fresh install's first `recommend` then reads them instead of deriving
them. Only the standard library is imported (and tomli on Python 3.10, a build requirement).
"""

import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithDerived(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install runs the checkout, which derives into the user's cache
            return
        target = os.path.join(self.build_lib, "fitadvisor", "derived")
        env = {**os.environ, "PYTHONPATH": os.path.abspath(self.build_lib), "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run([sys.executable, "-m", "fitadvisor.flows.prederive", target], check=True, env=env)


setup(cmdclass={"build_py": BuildWithDerived})
