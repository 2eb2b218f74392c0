"""TLS against a real HTTPS server on loopback: a private CA is trusted only through ca_bundle."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.token import TokenSource
from tests.client.fakes import TOKEN
from tests.client.serving import LoopbackServer
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration


async def _list(request: object) -> JSONResponse:
    return JSONResponse([])


APP = Starlette(routes=[Route("/deployments/list/model/", _list)])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made with the openssl command."""
    if shutil.which("openssl") is None:
        skip_or_fail("the openssl command is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_a_private_ca_is_trusted_through_ca_bundle(certificate: tuple[Path, Path]) -> None:
    """With ca_bundle naming the server's CA, the HTTPS call succeeds."""
    cert, key = certificate
    with LoopbackServer(APP, scheme="https", ssl_certfile=str(cert), ssl_keyfile=str(key)) as server:
        async with SimplismartClient(
            base_url=server.url, token=TokenSource.static(TOKEN), org_id=None, ca_bundle=cert
        ) as client:
            assert [] == await client.list_deployments()


async def test_without_ca_bundle_the_private_ca_is_refused_once(certificate: tuple[Path, Path]) -> None:
    """Without it, verification fails: one attempt, a non-transient error naming SCALER_CA_BUNDLE."""
    cert, key = certificate
    with LoopbackServer(APP, scheme="https", ssl_certfile=str(cert), ssl_keyfile=str(key)) as server:
        async with SimplismartClient(base_url=server.url, token=TokenSource.static(TOKEN), org_id=None) as client:
            with pytest.raises(errors.ConnectionFailed) as caught:
                await client.list_deployments()
    assert (False, 1) == (caught.value.transient, caught.value.attempts)
    assert "SCALER_CA_BUNDLE" in str(caught.value)
