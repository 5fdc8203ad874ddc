"""Run one fuzz target under atheris (libFuzzer), coverage-guided over walletauth.

    python -m fuzz.run TARGET [CORPUS_DIR] [libFuzzer flags, e.g. -runs=100000 -max_total_time=600]

Without a corpus directory a temporary one is seeded from the SIWE vectors or the shipped
policies. Exit 0: no input broke the target's contract; otherwise the failing input is
written as crash-* in the working directory and the traceback printed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["walletauth", "fuzz.targets"]):
    from fuzz.targets import TARGETS, seeds


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m fuzz.run {{{'|'.join(TARGETS)}}} [CORPUS_DIR] [flags]")
    target, rest = argv[1], argv[2:]
    if not rest or rest[0].startswith("-"):
        corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
        rest = [str(corpus), *rest]
    corpus = Path(rest[0])
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds(target)):
        (corpus / f"seed-{number}").write_bytes(seed)
    atheris.Setup([argv[0], *rest], TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
