"""Build hook: `pip install ./python` compiles the C library with cargo
(release profile; SEALDB_CARGO_PROFILE=debug for a quick build, or
SEALDB_LIBRARY=/path/to/libsealdb_ffi.so to use a built one) and ships it,
with include/sealdb.h, inside the package. Metadata is in pyproject.toml."""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if sys.platform == "darwin":
    LIBNAME = "libsealdb_ffi.dylib"
elif sys.platform == "win32":
    LIBNAME = "sealdb_ffi.dll"
else:
    LIBNAME = "libsealdb_ffi.so"


class BuildWithLibrary(build_py):
    """build_py that also builds and copies the C library and header."""

    def run(self):
        super().run()
        library = os.environ.get("SEALDB_LIBRARY")
        if not library:
            profile = os.environ.get("SEALDB_CARGO_PROFILE", "release")
            cmd = ["cargo", "build", "-p", "sealdb-ffi", "--lib"]
            if profile == "release":
                cmd.append("--release")
            subprocess.check_call(cmd, cwd=REPO)
            target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
            library = os.path.join(target, "release" if profile == "release" else "debug", LIBNAME)
        dest = os.path.join(self.build_lib, "sealdb")
        os.makedirs(dest, exist_ok=True)
        shutil.copy2(library, os.path.join(dest, LIBNAME))
        shutil.copy2(os.path.join(REPO, "include", "sealdb.h"), os.path.join(dest, "sealdb.h"))


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
