"""Finding the `dpsim` binary, the way ruff and uv find theirs: nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Optional, Union

_EXE = "dpsim.exe" if sys.platform == "win32" else "dpsim"


class BinaryNotFound(FileNotFoundError):
    """No `dpsim` binary was found; the message lists every place that was looked at."""


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _script_dirs() -> list[Path]:
    """The scripts folders a wheel's binary lands in: this interpreter's, then the user scheme's."""
    dirs: list[Path] = []
    scheme_dirs = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user" if sys.platform != "darwin" else "osx_framework_user"
    if user_scheme in sysconfig.get_scheme_names():
        scheme_dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
    # A virtual environment's interpreter sits in its scripts folder even when sysconfig was
    # asked from another one (for example `python -m` through a symlink).
    scheme_dirs.append(str(Path(sys.executable).parent))
    for d in scheme_dirs:
        if d and Path(d) not in dirs:
            dirs.append(Path(d))
    return dirs


def find_dpsim_bin(explicit: Optional[Union[str, os.PathLike[str]]] = None) -> str:
    """The path of the `dpsim` binary.

    Looked for in this order: `explicit`, the `DPSIM_BIN` environment variable, the scripts
    folder of this Python (where `pip install dpsim` put it), then `PATH`. The first two must
    name a runnable file when given; raises :class:`BinaryNotFound` saying where it looked.
    """
    looked: list[str] = []
    if explicit is not None:
        path = Path(explicit)
        if _runnable(path):
            return str(path)
        raise BinaryNotFound(f"the dpsim binary given ({path}) is not a runnable file")
    from_env = os.environ.get("DPSIM_BIN")
    if from_env:
        path = Path(from_env)
        if _runnable(path):
            return str(path)
        raise BinaryNotFound(f"DPSIM_BIN={from_env} is not a runnable file")
    looked.append("DPSIM_BIN (not set)")
    for folder in _script_dirs():
        candidate = folder / _EXE
        if _runnable(candidate):
            return str(candidate)
        looked.append(str(candidate))
    on_path = shutil.which(_EXE)
    if on_path:
        return on_path
    looked.append(f"{_EXE} on PATH")
    raise BinaryNotFound(
        "no dpsim binary found; looked at: "
        + ", ".join(looked)
        + ". Install the package with its binary (`pip install dpsim`, or `pip install ./python` from a "
        "checkout), set DPSIM_BIN, or pass binary=..."
    )
