"""``kycbridge new-provider``: the scaffold writes a plugin, in each style, that installs,
registers, passes its own tests, ruff and mypy --strict; names and styles are validated;
nothing is overwritten or half-written.

The slow part (the module-scoped ``installed`` fixture) generates one plugin per style and
pip-installs each into a temporary directory of its own put on ``PYTHONPATH`` (never into this
environment, which other tests, maybe running at the same time, count providers in), then runs
the plugins' tests, in parallel subprocesses; the tests below check what they recorded.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pluggy
import pytest

import kycbridge
from kycbridge import scaffold
from kycbridge.cli import scaffold as scaffold_cli
from kycbridge.scaffold import Names, ScaffoldError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "kycbridge" / "scaffold_templates"
TUTORIAL = ROOT / "docs" / "writing-a-provider.md"

NAME = "scaffoldtest"
DIST = "kycbridge-scaffoldtest"
PACKAGE = "kycbridge_scaffoldtest"

PLACEHOLDER = re.compile(r"\{\{")
STYLES = scaffold.STYLES

EXPECTED_FILES = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "tox.ini",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/provider.py",
    f"{PACKAGE}/simulator.py",
    f"{PACKAGE}/py.typed",
    f"tests/test_{NAME}_contract.py",
}
EXPECTED_BY_STYLE = {
    "query": EXPECTED_FILES,
    "path-signed": EXPECTED_FILES | {f"tests/test_{NAME}_signing.py"},
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kycbridge")
    sub = parser.add_subparsers(dest="command")
    scaffold_cli.add_parser(sub)
    return parser


def _run(*argv: str) -> tuple[int, str, str]:
    args = _parser().parse_args(["new-provider", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = scaffold_cli.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


def _tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # in the test extra for Python 3.10
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _generate(tmp_path: Path, style: str | None = None) -> Path:
    target = tmp_path / DIST
    code, _, err = _run(NAME, "--dir", str(target), *(["--style", style] if style else []))
    assert code == 0, err
    return target


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    """A plugin of the default style."""
    return _generate(tmp_path)


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["acme", "acme_eu", "a1", "x", "a" * 40])
def test_valid_names(name):
    assert scaffold.validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Acme", "1acme", "_acme", "acme-eu", "acme eu", "acme\n", "acmé", "a" * 41, "acme.eu"],
)
def test_invalid_names_are_refused_and_nothing_is_written(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(name)
    assert code == 2
    assert "invalid provider name" in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ScaffoldError):
        scaffold.scaffold(name, tmp_path / "x")


@pytest.mark.parametrize("style", STYLES)
def test_the_name_is_spelled_everywhere(style):
    names = Names("my_kyc")
    assert (names.camel, names.upper, names.package, names.distribution, names.host) == (
        "MyKyc",
        "MY_KYC",
        "kycbridge_my_kyc",
        "kycbridge-my-kyc",
        "my-kyc",
    )
    files = scaffold.render_all("my_kyc", style=style)
    assert "kycbridge_my_kyc/provider.py" in files
    assert "tests/test_my_kyc_contract.py" in files
    provider = files["kycbridge_my_kyc/provider.py"]
    assert "class MyKycProvider(HTTPStatusProvider)" in provider
    assert 'NAME = "my_kyc"' in provider
    env = "KYCBRIDGE_MY_KYC_API_KEY" if style == "query" else "KYCBRIDGE_MY_KYC_APP_TOKEN"
    assert env in provider
    assert "https://api.my-kyc.example" in provider
    assert 'name = "kycbridge-my-kyc"' in files["pyproject.toml"]
    assert 'my_kyc = "kycbridge_my_kyc"' in files["pyproject.toml"]
    assert 'distribution = "kycbridge-my-kyc"' in files["tests/test_my_kyc_contract.py"]
    for path, text in files.items():
        assert not re.search(r"acme", text, flags=re.IGNORECASE), path
        assert not PLACEHOLDER.search(text), path


@pytest.mark.parametrize(
    ("version", "requirement"),
    [
        ("0.1.0", "kycbridge>=0.1,<0.2"),
        ("0.1", "kycbridge>=0.1,<0.2"),
        ("1.12.3", "kycbridge>=1.12,<1.13"),
        ("0.2.0rc1", "kycbridge>=0.2.0rc1,<0.3"),
        ("0.2.0.dev3", "kycbridge>=0.2.0.dev3,<0.3"),
    ],
)
def test_core_requirement(version, requirement):
    assert scaffold.core_requirement(version) == requirement


# -- the files ----------------------------------------------------------------------------------
_PART = re.compile(r"^(?:# )?\{\{>\s*(\S+)\s*\}\}$", re.MULTILINE)


def test_every_template_is_used():
    used = {t for style in STYLES for t, _ in scaffold.style_files(style) if t is not None}
    used |= {part for t in set(used) for part in _PART.findall((TEMPLATES / t).read_text())}
    assert used == {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.tmpl")}
    assert scaffold.FILES == scaffold.style_files("query") == scaffold.style_files()
    assert scaffold.DEFAULT_STYLE == "query"


def test_shared_files_and_parts_are_shared():
    """The styles share the common templates and the field checks word for word."""
    query = scaffold.render_all(NAME, style="query")
    signed = scaffold.render_all(NAME, style="path-signed")
    for _, path in scaffold.COMMON_FILES:
        relative = path.replace("acme", NAME)
        assert query[relative] == signed[relative], relative
    part = scaffold.render(scaffold.template_text("parts/fields.py.tmpl"), Names(NAME))
    provider = f"{PACKAGE}/provider.py"
    assert part in query[provider] and part in signed[provider]
    # the base URL: the core rule (kycbridge.validators.base_url wraps check_base_url)
    assert "validators.base_url()" in query[provider]
    assert "validators.base_url()" in signed[provider]


@pytest.mark.parametrize("style", ["", "Query", "path_signed", "signed", "query "])
def test_unknown_styles_are_refused_and_nothing_is_written(tmp_path, style):
    with pytest.raises(ScaffoldError, match="unknown style"):
        scaffold.scaffold(NAME, tmp_path / "x", style=style)
    with pytest.raises(ScaffoldError):
        scaffold.render_all(NAME, style=style)
    with pytest.raises(SystemExit) as info:  # argparse: exit 2, "invalid choice"
        _parser().parse_args(["new-provider", NAME, "--style", style])
    assert info.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_missing_part_is_an_error():
    with pytest.raises(ScaffoldError, match="part"):
        scaffold.render("x\n{{> elsewhere/x.tmpl}}\n", Names(NAME))


@pytest.mark.parametrize("style", STYLES)
def test_generates_the_plugin(tmp_path, style):
    generated = _generate(tmp_path, style)
    expected = EXPECTED_BY_STYLE[style]
    assert _tree(generated) == expected
    assert (generated / PACKAGE / "py.typed").read_text() == ""
    provider = (generated / PACKAGE / "provider.py").read_text()
    assert "validators.base_url()" in provider
    assert 'KYCBRIDGE_PLUGIN_API = "' in (generated / PACKAGE / "__init__.py").read_text()
    for relative in expected:
        text = (generated / relative).read_text(encoding="utf-8")
        assert not PLACEHOLDER.search(text), relative
        assert not re.search(r"acme", text, flags=re.IGNORECASE), relative
        if relative.endswith(".py"):
            ast.parse(text, filename=relative)
    # Nothing left next to it (the staging directory is gone).
    assert [p.name for p in generated.parent.iterdir()] == [DIST]


def test_pyproject(generated):
    project = _load_toml(generated / "pyproject.toml")
    meta = project["project"]
    assert meta["name"] == DIST
    assert meta["dependencies"] == [scaffold.core_requirement(kycbridge.__version__)]
    assert meta["optional-dependencies"]["test"] == ["kycbridge[testing]", "pytest", "hypothesis"]
    assert meta["entry-points"] == {"kycbridge": {NAME: PACKAGE}}
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["tool"]["setuptools"]["packages"] == [PACKAGE]
    assert project["tool"]["setuptools"]["package-data"] == {PACKAGE: ["py.typed"]}


def test_tox_ini_tests_lowest_and_newest_core(generated):
    text = (generated / "tox.ini").read_text()
    assert "env_list = core-lowest, core-newest, lint" in text
    assert f"lowest: {{env:KYCBRIDGE_CORE_LOWEST:kycbridge=={kycbridge.__version__}}}" in text
    assert "newest: {env:KYCBRIDGE_CORE:kycbridge}" in text


_README_NEEDLES = {
    "query": ("KYCBRIDGE_SCAFFOLDTEST_API_KEY", "`verified` | `approved`"),
    "path-signed": (
        "KYCBRIDGE_SCAFFOLDTEST_APP_TOKEN",
        "KYCBRIDGE_SCAFFOLDTEST_SIGNING_SECRET",
        "| `completed` | `GREEN` | `approved` (final) |",
        "`usr-rate-limited`",
    ),
}


@pytest.mark.parametrize("style", STYLES)
def test_readme_documents_env_and_scenarios(tmp_path, style):
    text = (_generate(tmp_path, style) / "README.md").read_text()
    for needle in (
        *_README_NEEDLES[style],
        "KYCBRIDGE_SCAFFOLDTEST_BASE_URL",
        "`usr-not-found`",
        "KYCBRIDGE_CORE_LOWEST",
        scaffold.core_requirement(kycbridge.__version__),
    ):
        assert needle in text


@pytest.mark.parametrize("style", STYLES)
def test_next_steps_are_printed(tmp_path, style):
    code, out, err = _run(NAME, "--dir", str(tmp_path / "p"), "--style", style)
    assert (code, err) == (0, "")
    assert f"{style} style" in out
    assert "Next steps:" in out
    assert 'pip install -e ".[test]"' in out
    assert "kycbridge providers" in out


def test_default_dir_is_the_distribution_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run("acme_eu")
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["kycbridge-acme-eu"]
    assert (tmp_path / "kycbridge-acme-eu" / "kycbridge_acme_eu" / "provider.py").is_file()


# -- refusing to overwrite, nothing half-written ------------------------------------------------
def test_empty_existing_dir_is_fine(tmp_path):
    target = tmp_path / "p"
    target.mkdir()
    code, _, err = _run(NAME, "--dir", str(target))
    assert code == 0, err
    assert _tree(target) == EXPECTED_FILES


def test_refuses_a_non_empty_dir(tmp_path):
    target = tmp_path / "p"
    target.mkdir()
    (target / "README.md").write_text("mine")
    code, _, err = _run(NAME, "--dir", str(target))
    assert code == 2
    assert "not empty" in err and "--force" in err
    assert _tree(target) == {"README.md"}
    assert (target / "README.md").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["p"]


def test_refuses_a_file(tmp_path):
    target = tmp_path / "p"
    target.write_text("x")
    code, _, err = _run(NAME, "--dir", str(target))
    assert code == 2
    assert "not a directory" in err
    assert target.read_text() == "x"


def test_force_overwrites_generated_files_and_keeps_others(tmp_path):
    target = tmp_path / "p"
    (target / ".git").mkdir(parents=True)
    (target / ".git" / "HEAD").write_text("ref")
    (target / "notes.txt").write_text("mine")
    (target / "README.md").write_text("old")
    code, _, err = _run(NAME, "--dir", str(target), "--force")
    assert code == 0, err
    assert _tree(target) == EXPECTED_FILES | {".git/HEAD", "notes.txt"}
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "README.md").read_text().startswith(f"# {DIST}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_nothing_half_written_on_error(tmp_path, monkeypatch):
    target = tmp_path / "p"
    real_write = Path.write_text
    calls = []

    def failing_write(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 4:
            raise OSError(28, "No space left on device", str(self))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write)
    code, out, err = _run(NAME, "--dir", str(target))
    monkeypatch.undo()
    assert code == 1
    assert "No space left on device" in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []


# -- the tutorial shows the templates -----------------------------------------------------------
_INCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)\n((?::[\w-]+:.*\n)*)", re.MULTILINE)


def _unquote(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value


def test_tutorial_includes_the_templates():
    text = TUTORIAL.read_text(encoding="utf-8")
    includes = _INCLUDE.findall(text)
    assert includes, "the tutorial includes no template"
    seen = set()
    for path, block in includes:
        source = (TUTORIAL.parent / path).resolve()
        assert TEMPLATES in source.parents, path
        assert source.is_file(), path
        seen.add(source.relative_to(TEMPLATES).as_posix())
        code = source.read_text(encoding="utf-8")
        options = dict(re.findall(r"^:([\w-]+):(.*)$", block, flags=re.MULTILINE))
        for key in ("start-at", "start-after", "end-before", "end-at"):
            if key in options:
                assert _unquote(options[key]) in code, f"{path} :{key}: {options[key]}"
        if "pyobject" in options:
            tree = ast.parse(_PART.sub("", code))
            defined = {
                node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))
            }
            assert _unquote(options["pyobject"]) in defined, f"{path} :pyobject:"
    expected = {
        t
        for style in STYLES
        for t, _ in scaffold.style_files(style)
        if t is not None and not t.endswith(("gitignore.tmpl", "README.md.tmpl"))
    } | {"parts/fields.py.tmpl"}
    assert expected <= seen, f"the tutorial does not show {sorted(expected - seen)}"
    assert "## A path-addressed, signed API" in text
    assert "--style path-signed" in text
    for doc in ("hooks.md", "testing.md"):
        assert f"]({doc})" in text


# -- the generated plugin installs, passes its tests and registers ------------------------------
def _setuptools_can_build_in_place() -> bool:
    """Whether ``pip install --no-build-isolation`` can build the plugin here."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    found = re.match(r"(\d+)\.(\d+)", importlib.metadata.version("setuptools"))
    version = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    if version < (64, 0):
        return False
    # bdist_wheel moved into setuptools in 70.1; before that it needs the wheel package.
    return version >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _run_py(argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _env(site: Path | None = None) -> dict[str, str]:
    """This environment, without plugin filters or outer pytest options; ``site`` on the path."""
    drop = {"KYCBRIDGE_LOAD_PLUGINS", "KYCBRIDGE_DISABLE_PLUGINS", "PYTEST_ADDOPTS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PIP_NO_INPUT"] = "1"
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


_NO_INDEX = (
    "No matching distribution found for setuptools",
    "Could not find a version that satisfies the requirement setuptools",
    "NewConnectionError",
    "Network is unreachable",
    "Temporary failure in name resolution",
)


def _cli() -> list[str]:
    return [sys.executable, "-c", "import sys; from kycbridge.cli import main; sys.exit(main())"]


@attrs.frozen
class Installed:
    """A generated plugin, pip-installed into ``site``, and the run of its own tests."""

    root: Path
    site: Path
    tests: subprocess.CompletedProcess[str]


def _popen(argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(procs: dict[str, subprocess.Popen[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    done = {}
    for key, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Installed]:
    """One plugin per style, pip-installed into a directory of its own, its tests run.

    The plugins are built and installed by pip as for any user (wheel, metadata, entry
    point), but not into this environment: tests running at the same time in it (and other
    tests counting installed providers) never see them, and there is nothing to uninstall.
    The styles are installed, then tested, in parallel subprocesses: their suites mostly
    wait on loopback sockets and deadlines.
    """
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed")
    base = tmp_path_factory.mktemp("scaffold")
    roots = {style: _generate(base / style, style) for style in STYLES}
    sites = {style: base / style / "site" for style in STYLES}
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    install.append("-q")
    in_place = _setuptools_can_build_in_place()
    if in_place:
        install.append("--no-build-isolation")  # builds with this setuptools, no download
    # Otherwise (Python 3.12+ venvs have no setuptools) pip builds in an isolated
    # environment, with setuptools from the package index.
    results = _finish(
        {
            style: _popen(
                [*install, "--target", str(sites[style]), str(roots[style])],
                cwd=base / style,
                env=_env(),
            )
            for style in STYLES
        }
    )
    for result in results.values():
        if result.returncode != 0:
            output = result.stdout + result.stderr
            if not in_place and any(needle in output for needle in _NO_INDEX):
                pytest.skip(
                    "setuptools>=64 is not installed here and could not be downloaded to "
                    "build the generated plugin"
                )
            pytest.fail(f"pip install of a generated plugin failed:\n{output}")
    pytest_argv = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"]
    tests = _finish(
        {style: _popen(pytest_argv, cwd=roots[style], env=_env(sites[style])) for style in STYLES}
    )
    return {style: Installed(roots[style], sites[style], tests[style]) for style in STYLES}


@pytest.mark.parametrize("style", STYLES)
def test_generated_plugin_installs_and_passes_its_tests(installed, style):
    plugin = installed[style]
    assert (plugin.site / PACKAGE / "provider.py").is_file()
    dist_info = [p.name for p in plugin.site.glob(f"{PACKAGE}-*.dist-info")]
    assert dist_info == [f"{PACKAGE}-0.1.0.dist-info"]
    tests = plugin.tests
    assert tests.returncode == 0, f"the generated tests failed:\n{tests.stdout}{tests.stderr}"
    passed = re.search(r"\b(\d+) passed\b", tests.stdout)
    assert passed, tests.stdout
    assert " failed" not in tests.stdout and " error" not in tests.stdout, tests.stdout
    assert " skipped" not in tests.stdout, tests.stdout
    # The contract's tests, and the plugin's own (README tables; path-signed: signing, privacy)
    assert int(passed.group(1)) >= 30, tests.stdout


@pytest.mark.parametrize("style", STYLES)
def test_generated_plugin_registers(installed, style, tmp_path):
    site = installed[style].site
    providers = _run_py([*_cli(), "providers", "--json"], cwd=tmp_path, env=_env(site))
    assert providers.returncode == 0, providers.stderr
    listing = json.loads(providers.stdout)
    found = {p["name"]: p for p in listing["providers"]}
    assert NAME in found, listing
    assert found[NAME]["distribution"].replace("_", "-").lower() == DIST
    assert found[NAME]["version"] == "0.1.0"
    assert not listing["broken"], listing
    assert not listing["conflicts"], listing


def test_this_environment_never_saw_the_plugins(installed, tmp_path):
    without = _run_py([*_cli(), "providers", "--json"], cwd=tmp_path, env=_env())
    assert without.returncode == 0, without.stderr
    assert NAME not in {p["name"] for p in json.loads(without.stdout)["providers"]}


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for both styles: kycbridge itself is analysed once."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy_env() -> dict[str, str]:
    """This environment; mypy finds kycbridge's sources where this process imports them.

    An editable install is an import hook mypy cannot follow: point MYPYPATH at the source
    tree (never at a site-packages directory, which mypy finds itself and refuses there).
    """
    env = _env()
    parent = Path(kycbridge.__file__).resolve().parent.parent
    if parent.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(parent)
    return env


@pytest.mark.parametrize("style", STYLES)
def test_generated_code_is_ruff_clean_and_strictly_typed(tmp_path, style, mypy_cache):
    # ruff and mypy are in the test extra: this test runs (never skips) wherever the suite does
    generated = _generate(tmp_path, style)
    ruff = _run_py(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=generated, env=_env()
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    # As the plugin's tox lint env runs it: strict, from pyproject.toml's [tool.mypy].
    # kycbridge itself is followed silently: it is typed by the lint env on the newest
    # dependencies; with the lowest ones (pluggy 1.0, urllib3 1.26 ship no types) its own
    # modules would report errors that are not the generated plugin's.
    mypy = [
        sys.executable,
        "-m",
        "mypy",
        "--cache-dir",
        str(mypy_cache),
        "--follow-imports=silent",
        PACKAGE,
    ]
    if not (Path(pluggy.__file__).parent / "py.typed").is_file():
        # pluggy before 1.3 ships no types: its hookimpl decorator is untyped there, which
        # strict mypy reports on every hook (that one code only; every other check stays)
        mypy.insert(-1, "--disable-error-code=untyped-decorator")
    result = _run_py(mypy, cwd=generated, env=_mypy_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
