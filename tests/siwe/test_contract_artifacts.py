"""The committed bytecode matches the committed Solidity, and runs on any post-merge EVM."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tests.siwe.contracts import ARTIFACTS, REPO

VALIDATOR = files("walletauth.siwe").joinpath("_artifacts/ERC6492Validator.json")
ALL_ARTIFACTS = [Path(str(VALIDATOR)), *sorted(ARTIFACTS.glob("*.json"))]

# Opcodes newer than Paris: PUSH0 (Shanghai); TLOAD, TSTORE, MCOPY, BLOBHASH,
# BLOBBASEFEE (Cancun). Chains that a deployment points at may not have them.
POST_PARIS_OPCODES = {
    0x5F: "PUSH0",
    0x5C: "TLOAD",
    0x5D: "TSTORE",
    0x5E: "MCOPY",
    0x49: "BLOBHASH",
    0x4A: "BLOBBASEFEE",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def opcodes(code: bytes) -> list[int]:
    """Opcodes of EVM bytecode in order, skipping PUSH immediates."""
    ops, i = [], 0
    while i < len(code):
        op = code[i]
        ops.append(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return ops


def test_every_expected_artifact_is_committed() -> None:
    names = {load(path)["contractName"] for path in ALL_ARTIFACTS}
    assert names == {
        "ERC6492Validator",
        "MultiOwnerWallet",
        "SmartWallet",
        "SmartWalletFactory",
        "RevertingWallet",
        "RawResponseWallet",
        "MigratingWallet",
    }


@pytest.mark.parametrize("path", ALL_ARTIFACTS, ids=lambda p: p.stem)
def test_artifact_was_built_from_the_committed_sources(path: Path) -> None:
    artifact = load(path)
    assert artifact["sourceSha256"], "artifact lists no sources"
    for source, digest in artifact["sourceSha256"].items():
        actual = hashlib.sha256((REPO / source).read_bytes()).hexdigest()
        assert actual == digest, f"{source} changed: rebuild with `node contracts/build.mjs`"


@pytest.mark.parametrize("path", ALL_ARTIFACTS, ids=lambda p: p.stem)
def test_artifact_targets_paris(path: Path) -> None:
    artifact = load(path)
    assert artifact["evmVersion"] == "paris"
    code = bytes.fromhex(artifact["bytecode"].removeprefix("0x"))
    assert code
    used = {POST_PARIS_OPCODES[op] for op in opcodes(code) if op in POST_PARIS_OPCODES}
    assert not used


def test_opcode_scan_sees_push0() -> None:
    # The control for the scan above: PUSH1 0x5f is data, a bare 0x5f is PUSH0.
    assert 0x5F not in opcodes(bytes([0x60, 0x5F, 0x00]))
    assert 0x5F in opcodes(bytes([0x5F, 0x00]))


def test_validator_ships_inside_the_package() -> None:
    assert VALIDATOR.is_file()
    assert Path(str(VALIDATOR)).is_relative_to(REPO / "walletauth")
