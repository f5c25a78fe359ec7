"""One server process per module serving the reference graphs, and the real SDK clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient
from support.lgapi import start_lg_server
from support.server import ServerProcess


@pytest.fixture(scope="module")
def lg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server process on 127.0.0.1 serving chat, approval, slow and parent."""
    folder: Path = tmp_path_factory.mktemp("lgapi")
    srv = start_lg_server(folder)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def lg_client(lg_server: ServerProcess) -> LangGraphClient:
    """The real async ``langgraph_sdk`` client."""
    return get_client(url=lg_server.url, api_key=None)


@pytest.fixture
def lg_sync_client(lg_server: ServerProcess) -> Iterator[SyncLangGraphClient]:
    """The real sync ``langgraph_sdk`` client."""
    client = get_sync_client(url=lg_server.url, api_key=None)
    try:
        yield client
    finally:
        client.http.client.close()
