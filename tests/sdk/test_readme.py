"""The SDK README describes the API that exists."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import walletauth.sdk as sdk
from walletauth.sdk import AsyncClient, Client

TEXT = (Path(sdk.__file__).parent / "README.md").read_text(encoding="utf-8")
CLIENT_TABLE = TEXT.split("| method | answers |", 1)[1].split("\n\n", 1)[0]
DOCUMENTED_METHODS = re.findall(r"^\| `(\w+)\((.*?)\)` \|", CLIENT_TABLE, flags=re.MULTILINE)


def test_the_client_table_lists_every_public_method_of_both_clients():
    public = {name for name, _ in inspect.getmembers(Client, inspect.isfunction)
              if not name.startswith("_") and name != "close"}
    assert {name for name, _ in DOCUMENTED_METHODS} == public
    assert public <= {name for name in dir(AsyncClient) if not name.startswith("_")}


@pytest.mark.parametrize("name, documented", DOCUMENTED_METHODS)
def test_each_documented_signature_is_the_real_one(name, documented):
    for client in (Client, AsyncClient):
        real = [p for p in inspect.signature(getattr(client, name)).parameters.values()
                if p.name != "self"]
        shown = [p.strip() for p in documented.replace("*,", "").split(",") if p.strip()]
        assert [p.split("=")[0] for p in shown] == [p.name for p in real], client


def test_every_name_imported_in_a_sample_is_exported():
    imported = re.findall(r"from walletauth\.sdk import ([\w, ]+)", TEXT)
    names = {name.strip() for line in imported for name in line.split(",")}
    assert names and names <= set(sdk.__all__)


def test_every_service_endpoint_named_is_served(tmp_path):
    from walletauth.server.app import create_app
    from walletauth.server.config.settings import Settings

    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    named = set(re.findall(r"`POST (/services/v1/[\w/]+)`", TEXT))
    assert named
    assert all("post" in paths.get(path, {}) for path in named), named - set(paths)
