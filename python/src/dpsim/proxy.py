"""`dpsim.Proxy`: a `dpsim proxy` process in front of a real endpoint (or a `dpsim.Server`
standing in for one), for a test: the same message faults and checks as `serve`, for runners
pointed at it."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from ._binary import find_dpsim_bin
from ._process import ManagedProcess
from .faults import Duration, duration_text
from .server import scenario_file

__all__ = ["Proxy"]


class Proxy(ManagedProcess):
    """A `dpsim proxy` process on a free loopback port, forwarding to `upstream`, as a context
    manager::

        with dpsim.Server(clock="wall") as upstream, dpsim.Proxy(upstream.endpoint_url) as proxy:
            dp = proxy.boto3_client(read_timeout=2)
            with proxy.add_fault(faults.drop_request("ReportTaskProgress", runner="runner-a")):
                ...
            proxy.report().assert_passed()

    Options mirror `dpsim proxy`'s flags. `upstream_credentials` (access key, secret) signs
    forwarded calls; without it the proxy looks where AWS tools look (the AWS_* environment
    variables, then the shared profile). `settings` is a scenario file's path or dict whose
    `service` section gives the upstream's deadlines; `tolerance` is how far apart the
    proxy's clock and the service's may be. With `auth` clients must sign, and the admin calls
    use `admin_token` (one is made up when not given). `out_dir` receives `log.txt`,
    `report.json` and `report.html` when the proxy stops.

    Its admin routes are a subset of `serve`'s: faults (:meth:`add_fault`,
    :meth:`inject_error`, :meth:`faults`, :meth:`remove_fault`), control-plane events made
    upstream as real calls (:meth:`cancel` and the rest), :meth:`log_text`, :meth:`log` and
    :meth:`report`. The clock, reset and terminate are the real service's, not the proxy's:
    calling them raises :class:`dpsim.AdminError` naming the routes there are.
    """

    what = "dpsim proxy"
    hidden_env = ("DPSIM_AUTH", "DPSIM_ADMIN_TOKEN", "DPSIM_UPSTREAM_CREDENTIALS")

    def __init__(
        self,
        upstream: str,
        *,
        upstream_credentials: Optional[tuple[str, str]] = None,
        region: Optional[str] = None,
        auth: Optional[tuple[str, str]] = None,
        admin_token: Optional[str] = None,
        settings: Optional[Union[str, os.PathLike[str], dict[str, Any]]] = None,
        tolerance: Optional[Duration] = None,
        upstream_timeout: Optional[Duration] = None,
        upstream_proxy: Optional[str] = None,
        upstream_ca: Optional[Union[str, os.PathLike[str]]] = None,
        out_dir: Optional[Union[str, os.PathLike[str]]] = None,
        binary: Optional[Union[str, os.PathLike[str]]] = None,
        addr: str = "127.0.0.1:0",
        startup_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream
        files: tuple[str, ...] = ()
        args = [find_dpsim_bin(binary), "proxy", "--upstream", upstream, "--addr", addr]
        if upstream_credentials is not None:
            args += ["--upstream-credentials", f"{upstream_credentials[0]}:{upstream_credentials[1]}"]
        if region is not None:
            args += ["--region", region]
        if settings is not None:
            path = scenario_file(settings)
            files = (path,) if isinstance(settings, dict) else ()
            args += ["--settings", path]
        if tolerance is not None:
            args += ["--tolerance", duration_text(tolerance)]
        if upstream_timeout is not None:
            args += ["--upstream-timeout", duration_text(upstream_timeout)]
        if upstream_proxy is not None:
            args += ["--upstream-proxy", upstream_proxy]
        if upstream_ca is not None:
            args += ["--upstream-ca", os.fspath(upstream_ca)]
        super().__init__(
            args,
            auth=auth,
            admin_token=admin_token,
            out_dir=out_dir,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            files=files,
        )
