"""The server reaches the store only through its gateway (``walletauth.server.store_gateway``):
no thread of its own choosing (``run_in_threadpool``, ``asyncio.to_thread``, an executor of
its own), no store held beside the gateway, and no store method called outside a function
the gateway hands the store to. Read from the source's syntax trees, so a new route that
slips past the gateway fails here before it races SQLite's one writer."""

from __future__ import annotations

import ast
from pathlib import Path

import walletauth.server

SERVER = Path(walletauth.server.__file__).parent
GATEWAY = SERVER / "store_gateway.py"
RUNTIME = SERVER / "runtime.py"
CONSOLE_HOST = SERVER / "routes" / "console.py"
"""walletauth.console's host protocol has its calls name the store as an argument
(``host.run(fn, host.store, ...)``): the host holds the store for that, and its ``run``
goes through the gateway. It may reach ``.store``; it may not hop threads either."""
THREAD_HOPS = frozenset({"run_in_threadpool", "to_thread", "run_in_executor",
                         "ThreadPoolExecutor"})
GATEWAY_CALLS = frozenset({"run", "run_short", "run_always"})


def _is_store(annotation: ast.expr | None) -> bool:
    return (isinstance(annotation, ast.Name) and annotation.id == "Store") or (
        isinstance(annotation, ast.Constant) and annotation.value == "Store")


def ways_around(source: str, path: Path) -> list[str]:
    """Every way ``source`` reaches the store other than through the gateway."""
    found: list[str] = []
    tree = ast.parse(source)

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: {what}")

    gateway_args: set[int] = set()  # ids of nodes passed as a gateway call's function
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in GATEWAY_CALLS and node.args):
            gateway_args.add(id(node.args[0]))

    for node in ast.walk(tree):
        if path != GATEWAY:
            name = (node.id if isinstance(node, ast.Name)
                    else node.attr if isinstance(node, ast.Attribute) else None)
            if name in THREAD_HOPS:
                say(node, f"{name}: a thread that is not the gateway's")
        if (isinstance(node, ast.Attribute) and node.attr == "store"
                and path not in (GATEWAY, CONSOLE_HOST)):
            in_property = path == RUNTIME and isinstance(node.value, ast.Attribute) and (
                node.value.attr == "gateway")
            if not in_property:
                say(node, f"{ast.unparse(node)}: a store reached beside the gateway")
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "Store" and id(node) not in gateway_args
                and node.attr != "open"):  # the constructor: StoreGateway.open runs it
            say(node, f"{ast.unparse(node)}: a store method not handed to the gateway")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and path != GATEWAY:
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            stores = [a for a in arguments if _is_store(a.annotation)]
            if stores and arguments[0] not in stores:
                say(node, f"{node.name}: takes a store, not as its first argument (so not"
                          " from the gateway)")
        if isinstance(node, ast.Assign) and path not in (GATEWAY, CONSOLE_HOST):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self" and "store" in target.attr):
                    say(node, f"self.{target.attr}: a store held beside the gateway")
    return found


def test_the_server_reaches_the_store_only_through_the_gateway():
    found = [way for path in sorted(SERVER.rglob("*.py"))
             for way in ways_around(path.read_text(encoding="utf-8"), path)]
    assert found == []


def test_the_check_finds_each_way_around():
    route = SERVER / "routes" / "example.py"
    source = '''
from starlette.concurrency import run_in_threadpool
import asyncio

async def one(runtime):
    await run_in_threadpool(rights.erase_subject, runtime.store, "0x1")
    await asyncio.to_thread(print)
    await runtime.gateway.run(Store.records, "0x1")
    method = Store.put_record

def helper(address: str, store: Store) -> None: ...

class Holder:
    def __init__(self, store):
        self._store = store
'''
    found = ways_around(source, route)
    kinds = {way.split(": ", 1)[1].split(":")[0] for way in found}
    assert kinds == {"run_in_threadpool", "runtime.store", "to_thread", "Store.put_record",
                     "helper", "self._store"}
    # The gateway's own call passes: Store.records handed to runtime.gateway.run.
    assert not any("Store.records" in way for way in found)
