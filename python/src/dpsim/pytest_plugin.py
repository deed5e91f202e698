"""The pytest plugin (registered as `dpsim` through the `pytest11` entry point).

Fixtures:

- ``dpsim``: a :class:`dpsim.Server` for one test. By default the session's server, reset
  before the test (``POST /_dpsim/reset``: a fresh world in well under a millisecond); a test
  marked ``@pytest.mark.dpsim(seed=3, scenario=..., auth=...)`` gets a process of its own
  with those options, and ``--dpsim-fresh`` gives every test its own process.
- ``dpsim_server``: the session's server (started on first use).
- ``dpsim_factory``: ``dpsim_factory(**options)`` starts more servers, stopped after the test.
- ``dpsim_options``: the options the session's server is started with; override it in a
  ``conftest.py`` to change them for a whole suite.

On a failed test that used a server, its ownership log and the report's failing verdicts are
added to pytest's failure output and written to ``<--dpsim-out>/<test>.txt``.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from .server import Server

_SERVERS = pytest.StashKey[list[Server]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dpsim", "dpsim serve for task-runner tests")
    group.addoption("--dpsim-bin", help="the dpsim binary (default: DPSIM_BIN, the package's, then PATH)")
    group.addoption("--dpsim-clock", choices=("manual", "wall"), help="the servers' clock (default manual)")
    group.addoption("--dpsim-seed", type=int, help="the servers' seed (default 0)")
    group.addoption(
        "--dpsim-poll-hold", type=float, help="PollForTask hold in seconds (default 0: answered at once)"
    )
    group.addoption("--dpsim-out", help="where a failed test's log and verdicts are written (default .dpsim)")
    group.addoption(
        "--dpsim-fresh",
        action="store_true",
        help="a fresh dpsim serve process for every test instead of one reset between tests",
    )
    parser.addini("dpsim_bin", "the dpsim binary")
    parser.addini("dpsim_clock", "the servers' clock: manual or wall")
    parser.addini("dpsim_seed", "the servers' seed")
    parser.addini("dpsim_poll_hold", "PollForTask hold in seconds")
    parser.addini("dpsim_out", "where a failed test's log and verdicts are written")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dpsim(**options): the test's `dpsim` fixture is a server of its own with these dpsim.Server options",
    )


def _option(config: pytest.Config, name: str) -> Optional[str]:
    given = config.getoption(f"--dpsim-{name.replace('_', '-')}")
    if given is not None:
        return str(given)
    ini = config.getini(f"dpsim_{name}")
    return str(ini) if ini else None


@pytest.fixture(scope="session")
def dpsim_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Options for every server the plugin starts (the session's and per-test ones)."""
    options: dict[str, Any] = {}
    binary = _option(pytestconfig, "bin")
    if binary:
        options["binary"] = binary
    clock = _option(pytestconfig, "clock")
    if clock:
        options["clock"] = clock
    seed = _option(pytestconfig, "seed")
    if seed is not None:
        options["seed"] = int(seed)
    # On a still clock a held poll waits until the test moves time; tests want an empty poll
    # answered at once unless they ask for holds.
    hold = _option(pytestconfig, "poll_hold")
    options["poll_hold"] = float(hold) if hold is not None else 0
    return options


@pytest.fixture(scope="session")
def dpsim_server(dpsim_options: dict[str, Any]) -> Iterator[Server]:
    """The session's server, reset before each test that asks for `dpsim`."""
    with Server(**dpsim_options) as server:
        yield server


def _remember(item: pytest.Item, server: Server) -> None:
    item.stash.setdefault(_SERVERS, []).append(server)


@pytest.fixture
def dpsim_factory(
    request: pytest.FixtureRequest, dpsim_options: dict[str, Any]
) -> Iterator[Callable[..., Server]]:
    """Starts servers with `dpsim_options` overridden by the keywords given; all stop after the test."""
    started: list[Server] = []

    def start(**options: Any) -> Server:
        server = Server(**{**dpsim_options, **options}).start()
        started.append(server)
        _remember(request.node, server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def dpsim(request: pytest.FixtureRequest, dpsim_options: dict[str, Any]) -> Generator[Server, None, None]:
    """The test's server: the session's, reset; or its own, under a `dpsim` marker or `--dpsim-fresh`."""
    marker = request.node.get_closest_marker("dpsim")
    if marker is not None or request.config.getoption("--dpsim-fresh"):
        own = dict(marker.kwargs) if marker is not None else {}
        with Server(**{**dpsim_options, **own}) as server:
            _remember(request.node, server)
            yield server
        return
    shared: Server = request.getfixturevalue("dpsim_server")
    shared.check_alive()
    shared.reset()
    _remember(request.node, shared)
    yield shared


def _file_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:200] + ".txt"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    servers = item.stash.get(_SERVERS, [])
    out = Path(_option(item.config, "out") or item.config.rootpath / ".dpsim")
    for n, server in enumerate(servers):
        name = "dpsim" if len(servers) == 1 else f"dpsim server {n + 1}"
        try:
            verdicts = server.report()
        except Exception as e:  # the server may be the thing that broke
            report.sections.append((f"{name}: no report", f"{type(e).__name__}: {e}\n{server.stderr()}"))
            continue
        failures = verdicts.failures() or "every invariant held and every expectation passed"
        path = out / _file_name(item.nodeid if n == 0 else f"{item.nodeid}-{n + 1}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{item.nodeid}\n\n{failures}\n\nownership log:\n{verdicts.log_text}")
            where = f"\n(written to {path})"
        except OSError as e:
            where = f"\n(could not write {path}: {e})"
        report.sections.append((f"{name} verdicts", failures + where))
        report.sections.append((f"{name} ownership log", verdicts.log_text))
