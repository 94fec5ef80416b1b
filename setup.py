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
        # the built copy first; pip's isolated build environment reaches its own packages (tomli) through PYTHONPATH too
        path = os.pathsep.join(filter(None, [os.path.abspath(self.build_lib), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        if subprocess.run([sys.executable, "-m", "fitadvisor.flows.prederive", target], env=env).returncode:
            # only speed is lost: the installed fitadvisor derives on its first run, as an editable install does
            self.warn("fitadvisor: deriving what a first run needs failed (above); the package is built without it")


setup(cmdclass={"build_py": BuildWithDerived})
