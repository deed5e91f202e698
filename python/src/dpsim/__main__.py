"""`python -m dpsim ...` runs the packaged `dpsim` binary with the same arguments."""

import os
import subprocess
import sys

from ._binary import find_dpsim_bin


def main() -> int:
    binary = find_dpsim_bin()
    if sys.platform == "win32":
        return subprocess.call([binary, *sys.argv[1:]])
    os.execv(binary, [binary, *sys.argv[1:]])
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
