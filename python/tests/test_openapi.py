"""The OpenAPI document the server answers validates as OpenAPI 3.1, equals the committed
openapi.json, and every route it describes is answered as an admin route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

import dpsim

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_the_served_document_validates_and_is_the_committed_one() -> None:
    with dpsim.Server() as server:
        document = server.openapi()
    validate(document)  # type: ignore[arg-type]
    assert document["openapi"].startswith("3.1")
    assert document == json.loads(COMMITTED.read_text())


def test_every_described_route_is_an_admin_route() -> None:
    with dpsim.Server() as server:
        document = server.openapi()
        for path, operations in document["paths"].items():
            for method in operations:
                if path == "/_dpsim/reset":
                    continue
                try:
                    server._call(method.upper(), path.replace("{id}", "1"))
                except dpsim.AdminError as e:
                    assert "is not an admin route" not in e.message, e
                    assert e.status not in (404, 405) or "no fault has id" in e.message, e


def test_the_document_needs_the_admin_token_under_auth() -> None:
    with dpsim.Server(auth=("AKIDOPENAPI", "secret"), admin_token="token") as server:
        assert server.openapi()["info"]["title"]
        anonymous = dpsim.Client(server.endpoint_url)
        with pytest.raises(dpsim.AdminError) as refused:
            anonymous.openapi()
        assert refused.value.status == 401
