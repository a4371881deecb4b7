"""The core's layout: the library never imports the CLI; exit codes have one home."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

import kycbridge
from kycbridge import errors
from kycbridge.exitcodes import MEANINGS, ExitCode
from kycbridge.transport import Transport

PACKAGE = Path(kycbridge.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]
"""The repository (pyproject.toml, docs/): not PACKAGE's parent where tox installs it."""
DOCS = ROOT / "docs"


def _module_name(path: Path) -> str:
    parts = ["kycbridge", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_cli(path: Path) -> bool:
    """CLI code: the ``kycbridge/cli/`` package, or a subpackage's ``cli`` module."""
    return "cli" in path.relative_to(PACKAGE).with_suffix("").parts


def _library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not _is_cli(p))


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved (``from . import x``: both)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_module_list_is_complete():
    names = {_module_name(p) for p in _library_modules()}
    assert {"kycbridge.watch", "kycbridge.bulk", "kycbridge.demo", "kycbridge.scaffold"} <= names
    assert not any(n.startswith("kycbridge.cli") for n in names)
    assert _is_cli(PACKAGE / "tracking" / "cli.py") and _is_cli(PACKAGE / "cli" / "output.py")
    assert not _is_cli(PACKAGE / "client.py")
    assert _imported(PACKAGE / "cli" / "watch.py") >= {"kycbridge.watch", "kycbridge.cli.output"}


@pytest.mark.parametrize("path", _library_modules(), ids=_module_name)
def test_no_library_module_imports_the_cli(path):
    bad = sorted(
        m for m in _imported(path) if m == "kycbridge.cli" or m.startswith("kycbridge.cli.")
    )
    assert not bad, f"{_module_name(path)} imports {bad}: the library must not import the CLI"


def test_importing_the_library_never_loads_the_cli():
    """Each library module, imported in a fresh interpreter, leaves kycbridge.cli unloaded."""
    names = [_module_name(p) for p in _library_modules()]
    script = (
        "import importlib, json, sys\n"
        "loaded = {}\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "    cli = [m for m in sys.modules if m.split('.')[:2] == ['kycbridge', 'cli']]\n"
        "    loaded[name] = sorted(cli)\n"
        "print(json.dumps(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(done.stdout)
    assert set(loaded) == set(names)
    assert {name: cli for name, cli in loaded.items() if cli} == {}


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "kycbridge.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"kycbridge {kycbridge.__version__}")


def test_the_console_script_is_kycbridge_cli_main():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^kycbridge = "kycbridge\.cli:main"$', text, flags=re.M)


# -- exit codes ---------------------------------------------------------------------------
def test_every_exit_code_has_a_meaning():
    assert set(MEANINGS) == set(ExitCode)  # aliases (DEMO_FAILED, WRITE_FAILED) are members
    assert ExitCode.DEMO_FAILED is ExitCode.INTERNAL is ExitCode.WRITE_FAILED
    assert len({int(c) for c in ExitCode}) == len(list(ExitCode))


def test_every_error_exit_code_is_an_exit_code():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert errors.WatchTimeout in classes and errors.PluginBroken in classes
    for cls in classes:
        assert type(cls.exit_code) is ExitCode, cls


def test_the_exit_code_table_in_the_docs_is_the_enum():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.M)
    assert rows, "no exit-code table in docs/cli.md"
    assert [(int(code), meaning) for code, meaning in rows] == [
        (int(code), MEANINGS[code]) for code in sorted(MEANINGS)
    ]


def test_main_returns_plain_ints():
    from kycbridge.cli import main

    code = main(["--version"], stdout=_Sink(), stderr=_Sink())
    assert type(code) is int and code == ExitCode.OK
    code = main(["nonsense"], stdout=_Sink(), stderr=_Sink())
    assert type(code) is int and code == ExitCode.USAGE


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


# -- one way to derive a transport ----------------------------------------------------------
def test_evolve_shares_the_pool_and_the_counter():
    base = Transport(connect_timeout=1, read_timeout=2, call_timeout=30, retries=2, maxsize=4)
    derived = base.evolve(connect_timeout=5, call_timeout=None, deadline=123.0)
    assert derived is not base and derived.pool is base.pool
    assert (derived.timeout.connect_timeout, derived.timeout.read_timeout) == (5, 2)
    assert derived.call_timeout is None and derived._deadline == 123.0
    assert (derived.retry, derived.max_body, derived.user_agent) == (
        base.retry,
        base.max_body,
        base.user_agent,
    )
    # the original is untouched
    assert (base.timeout.connect_timeout, base.call_timeout, base._deadline) == (1, 30, None)
    assert derived._sent is base._sent  # requests_sent counts for both
    assert base.evolve() is not base and base.evolve().pool is base.pool
    assert base.evolve(maxsize=4).pool is base.pool  # same size: same pool


def test_evolve_with_another_maxsize_makes_a_pool_of_the_same_kind():
    base = Transport(maxsize=4)
    bigger = base.evolve(maxsize=10)
    assert bigger.pool is not base.pool and bigger._sent is base._sent
    assert (bigger.maxsize, base.maxsize) == (10, 4)
    assert bigger.pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert bigger.pool.pool_classes_by_scheme is base.pool.pool_classes_by_scheme
    assert bigger._guarded and base._guarded  # every recv still bounded by the deadline


def test_evolve_refuses_what_it_cannot_do():
    base = Transport()
    for bad in (
        {"connect_timeout": 0},
        {"read_timeout": -1},
        {"call_timeout": 0},
        {"maxsize": 0},
        {"maxsize": True},
    ):
        with pytest.raises(ValueError):
            base.evolve(**bad)
    proxied = Transport(urllib3.ProxyManager("http://127.0.0.1:9"))
    assert proxied.evolve(read_timeout=1).pool is proxied.pool
    with pytest.raises(ValueError, match="ProxyManager"):
        proxied.evolve(maxsize=64)


def test_the_old_ways_are_evolve():
    base = Transport(connect_timeout=1, read_timeout=2)
    timed = base.with_timeout(7)
    assert (timed.timeout.connect_timeout, timed.timeout.read_timeout, timed._longest) == (7, 7, 7)
    assert base.with_call_timeout(None).call_timeout is None
    assert base.until(None) is base and base.until(5.0)._deadline == 5.0
    assert base.until(5.0).pool is base.pool


# -- command groups -----------------------------------------------------------------------
def test_a_command_group_plugs_in_with_one_line(monkeypatch):
    import io

    from kycbridge import Bridge
    from kycbridge.cli import COMMAND_GROUPS, CommandGroup, main

    seen: list = []

    def add_parser(subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--fail", action="store_true")
        p.add_argument("--json", action="store_true")
        subparsers.add_parser("hello-bridge", help="say hello with the bridge")

    def run(args, out, err):
        seen.append((args.command, args.verbose + args.verbose_sub))
        if args.fail:
            raise errors.SubjectNotFound("nobody here", provider="toy")
        out.write("hello\n")
        return ExitCode.OK

    def run_with_bridge(args, bridge, out, err):
        seen.append((args.command, bridge))
        return ExitCode.OK

    plain = CommandGroup(add_parser, run=run)
    # one add_parser may add several subcommands: each is run by the group that added it
    groups = [*COMMAND_GROUPS, plain]
    monkeypatch.setattr("kycbridge.cli.COMMAND_GROUPS", groups)
    out, err = io.StringIO(), io.StringIO()
    assert main(["hello", "-v"], stdout=out, stderr=err) == 0 and out.getvalue() == "hello\n"
    assert seen == [("hello", 1)]
    out = io.StringIO()
    assert main(["hello", "--fail", "--json"], stdout=out, stderr=err) == 4
    assert "kycbridge: toy: nobody here" in err.getvalue()
    assert json.loads(out.getvalue())["error"]["type"] == "not_found"
    groups[-1] = CommandGroup(add_parser, run_with_bridge=run_with_bridge)
    bridge = Bridge(plugins=[], env={})
    assert main(["hello-bridge"], bridge=bridge, stdout=out, stderr=err) == 0
    assert seen[-1] == ("hello-bridge", bridge)
    with pytest.raises(ValueError):
        CommandGroup(add_parser)
    with pytest.raises(ValueError):
        CommandGroup(add_parser, run=run, run_with_bridge=run_with_bridge)
