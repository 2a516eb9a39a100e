#!/usr/bin/env python3
"""Check docs/security/claims.md against the code.

Every claim C1..C34 of ../shared/SECURITY-CLAIMS.md must have a row in the table, and every test the
"proved by" column cites must exist. A citation is written in backticks as

    `crate-name: module::path::test_fn`

that is, the crate's directory under crates/, a colon and a space, then the test's path inside that
crate's test binary (the name `cargo test` prints, e.g. `envelope::tests::any_flipped_bit_fails` or
`postgres::kek_rotation_under_live_writes_keeps_everything_readable`). A proof cell without any
citation must say "planned".

A citation exists when
  * crates/<crate>/ has a `fn <test_fn>` (in the module's own file when the first path segment names
    one: src/<seg>.rs, src/<seg>/, tests/<bin>/<seg>.rs, tests/<bin>/<seg>/), or, for tests a macro
    generates (the store's conformance suite runs each case as sqlite::<case> and postgres::<case>),
    <test_fn> appears as an identifier in one of the crate's tests/<bin>/main.rs files; and
  * every module segment of the path is declared somewhere in the crate (`mod <seg>`).

With --test-log FILE (the output of `cargo test ... 2>&1`, as .ci/run saves it), every cited test must
also appear in it as `test <path> ... ok`: it ran and passed in this CI run, not only exists.

Exit status 0 when everything checks out, 1 listing every problem otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "docs" / "security" / "claims.md"
CRATES = ROOT / "crates"
CLAIM_IDS = [f"C{i}" for i in range(1, 35)]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CITATION = re.compile(rf"`([a-z0-9][a-z0-9_-]*): ({IDENT}(?:::{IDENT})*)`")
BACKTICKED = re.compile(r"`([^`]*)`")
ROW = re.compile(r"^\|\s*(C\d+)\s*\|")
TEST_RESULT = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored.*)$")


@dataclass(frozen=True)
class Citation:
    claim: str
    crate: str
    path: str

    def __str__(self) -> str:
        return f"{self.claim}: `{self.crate}: {self.path}`"


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table row (pipes inside backticks do not split)."""
    cells, cell, in_code = [], [], False
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    for ch in body:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(ch)
    cells.append("".join(cell).strip())
    return cells


def parse_claims(text: str, problems: list[str]) -> tuple[dict[str, int], list[Citation]]:
    """Rows per claim id, and every citation in the proof column."""
    rows: dict[str, int] = {}
    citations: list[Citation] = []
    header_cells: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("| id "):
            header_cells = len(split_cells(line))
            continue
        match = ROW.match(line)
        if not match:
            continue
        claim = match.group(1)
        rows[claim] = rows.get(claim, 0) + 1
        cells = split_cells(line)
        if header_cells is not None and len(cells) != header_cells:
            problems.append(f"line {number}: {claim} has {len(cells)} cells, the header has {header_cells}")
            continue
        proof = cells[-1]
        found = [Citation(claim, m.group(1), m.group(2)) for m in CITATION.finditer(proof)]
        # Anything in backticks that looks like a test path but is not a well-formed citation.
        for code in BACKTICKED.findall(proof):
            if "::" in code and not CITATION.fullmatch(f"`{code}`"):
                problems.append(
                    f"line {number}: {claim}: malformed citation `{code}` "
                    "(write `crate-name: module::path::test_fn`)"
                )
        if not found and "planned" not in proof:
            problems.append(f"line {number}: {claim} cites no test and does not say it is planned")
        citations.extend(found)
    return rows, citations


class CrateIndex:
    """The Rust sources of one crate, read once."""

    def __init__(self, crate_dir: Path):
        self.dir = crate_dir
        self.files = {p: p.read_text(encoding="utf-8", errors="replace") for p in sorted(crate_dir.rglob("*.rs"))
                      if "target" not in p.relative_to(crate_dir).parts}

    def module_files(self, module: str) -> list[Path]:
        """Files that hold module `module` when it is the first segment of a test path."""
        roots = [self.dir / "src"] + [p for p in (self.dir / "tests").glob("*") if p.is_dir()]
        out = []
        for root in roots:
            for path in self.files:
                if path == root / f"{module}.rs" or (root / module) in path.parents:
                    out.append(path)
        return out

    def has_fn(self, name: str, files: list[Path] | None = None) -> bool:
        pattern = re.compile(rf"\bfn\s+{re.escape(name)}\b")
        return any(pattern.search(self.files[p]) for p in (files if files is not None else self.files))

    def in_macro_list(self, name: str) -> bool:
        """`name` appears in a test binary's main.rs (the conformance!(...) case list)."""
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        tests = self.dir / "tests"
        return any(p.name == "main.rs" and tests in p.parents and pattern.search(text)
                   for p, text in self.files.items())

    def declares_module(self, name: str) -> bool:
        pattern = re.compile(rf"\bmod\s+{re.escape(name)}\b")
        return any(pattern.search(text) for text in self.files.values())


def check_exists(citation: Citation, indexes: dict[str, CrateIndex]) -> str | None:
    crate_dir = CRATES / citation.crate
    if not (crate_dir / "Cargo.toml").is_file():
        return f"{citation}: no crate crates/{citation.crate}/"
    index = indexes.setdefault(citation.crate, CrateIndex(crate_dir))
    *modules, name = citation.path.split("::")
    for module in modules:
        if not index.declares_module(module):
            return f"{citation}: crates/{citation.crate}/ declares no `mod {module}`"
    scoped = index.module_files(modules[0]) if modules else []
    if scoped:
        if index.has_fn(name, scoped):
            return None
        where = ", ".join(str(p.relative_to(ROOT)) for p in scoped[:3])
        return f"{citation}: no `fn {name}` in module {modules[0]} ({where})"
    if index.has_fn(name) or index.in_macro_list(name):
        return None
    return f"{citation}: no `fn {name}` (nor a macro-generated case of that name) in crates/{citation.crate}/"


def passed_tests(log: Path) -> tuple[set[str], set[str]]:
    passed, other = set(), set()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = TEST_RESULT.match(line.rstrip())
        if match:
            (passed if match.group(2) == "ok" else other).add(match.group(1))
    return passed, other


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=Path, default=CLAIMS, help="the claims table (default: %(default)s)")
    parser.add_argument("--test-log", type=Path, help="cargo test output: cited tests must have passed in it")
    args = parser.parse_args()

    problems: list[str] = []
    try:
        text = args.claims.read_text(encoding="utf-8")
    except OSError as err:
        print(f"check-claims: cannot read {args.claims}: {err}", file=sys.stderr)
        return 1

    rows, citations = parse_claims(text, problems)
    for claim in CLAIM_IDS:
        if rows.get(claim, 0) == 0:
            problems.append(f"{claim}: missing from the table")
        elif rows[claim] > 1:
            problems.append(f"{claim}: {rows[claim]} rows (one expected)")
    for claim in sorted(set(rows) - set(CLAIM_IDS), key=lambda c: int(c[1:])):
        problems.append(f"{claim}: not a claim of SECURITY-CLAIMS.md (C1..C34)")

    indexes: dict[str, CrateIndex] = {}
    missing = [msg for c in citations if (msg := check_exists(c, indexes))]
    problems.extend(missing)

    not_passed: list[str] = []
    if args.test_log is not None:
        try:
            passed, other = passed_tests(args.test_log)
        except OSError as err:
            print(f"check-claims: cannot read {args.test_log}: {err}", file=sys.stderr)
            return 1
        for c in citations:
            if c.path in passed:
                continue
            state = "did not pass (failed or ignored)" if c.path in other else "did not run"
            not_passed.append(f"{c}: {state} in {args.test_log}")
        problems.extend(not_passed)

    unique = {(c.crate, c.path) for c in citations}
    claims_with_tests = len({c.claim for c in citations})
    print(f"check-claims: {len(citations)} citations checked ({len(unique)} distinct tests), "
          f"{claims_with_tests} of {len(CLAIM_IDS)} claims cite at least one test"
          + (f"; test log {args.test_log}" if args.test_log else ""))
    if problems:
        print(f"check-claims: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("check-claims: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
