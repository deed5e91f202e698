"""dpsim for Python: the `dpsim serve` test server, the `dpsim proxy` in front of a real
endpoint, a typed client for their admin routes, and a pytest plugin, for testing AWS Data
Pipeline task runners.

    import dpsim
    from dpsim import faults

    with dpsim.Server(seed=7) as server:
        dp = server.boto3_client()
        with server.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a")):
            ...
        server.advance(121)
        server.report().assert_passed()

The wheel carries the `dpsim` binary itself; nothing is downloaded at test time.
"""

from . import faults
from ._binary import BinaryNotFound, find_dpsim_bin
from .client import AdminError, Client, Clock, FaultHandle, FaultStatus, Reset
from .proxy import Proxy
from .report import Expectation, Invariant, LogLine, Report, ReportFailed, Summary, Violation
from .server import Server, ServerError

__all__ = [
    "AdminError",
    "BinaryNotFound",
    "Client",
    "Clock",
    "Expectation",
    "FaultHandle",
    "FaultStatus",
    "Invariant",
    "LogLine",
    "Proxy",
    "Report",
    "ReportFailed",
    "Reset",
    "Server",
    "ServerError",
    "Summary",
    "Violation",
    "faults",
    "find_dpsim_bin",
]
