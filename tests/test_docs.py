"""The docs say what the code does."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from kycbridge import FINAL_STATES, TRANSITIONS, KYCState, Transition

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def kbdocs(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "_ext"))
    import kbdocs

    yield kbdocs
    sys.modules.pop("kbdocs", None)


def _table(text: str, header: str) -> dict[KYCState, tuple[str, ...]]:
    """The rows of the Markdown table under ``header``: first cell -> the other cells."""
    lines = text[text.index(header) :].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        first, *rest = (cell.strip() for cell in line.strip("|").split("|"))
        rows[KYCState(first.strip("`"))] = tuple(rest)
    return rows


def _states(cell: str) -> set[KYCState]:
    return {KYCState(w) for w in re.findall(r"`(\w+)`", cell)}


def test_every_state_is_placed_once_in_the_diagram(kbdocs):
    placed = [s for row in kbdocs.DIAGRAM_GRID for s in row if s is not None]
    assert sorted(placed) == sorted(KYCState)
    assert set(kbdocs.diagram_positions()) == set(KYCState)
    assert len(set(kbdocs.diagram_positions().values())) == len(KYCState)


def test_diagram_edges_and_tables_are_exactly_the_transitions(kbdocs):
    svg = kbdocs.state_diagram_svg()
    drawn = {
        (KYCState(a), KYCState(b))
        for a, b in re.findall(r'class="edge \w+" data-from="(\w+)" data-to="(\w+)"', svg)
    }
    assert drawn == kbdocs.drawn_transitions()
    assert all(b in TRANSITIONS[a] for a, b in drawn), "an arrow the code does not expect"
    assert all(f'data-state="{s.value}"' in svg and f">{s.value}<" in svg for s in KYCState)

    text = kbdocs.transition_tables()
    other = _table(text, "| from | final | also expected next |")
    assert set(other) == set(KYCState)
    table = {(a, b) for a, (final, nxt) in other.items() for b in _states(nxt)}
    for state, (final, _) in other.items():
        assert final == ("yes" if state in FINAL_STATES else "no"), state
    assert not table & drawn, "a transition both drawn and in the table"
    expected = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert drawn | table == expected

    flagged = {
        (a, b)
        for a, (cell,) in _table(text, "| from | anomaly if observed next |").items()
        for b in _states(cell)
    }
    every_change = {(a, b) for a in KYCState for b in KYCState if a is not b}
    assert flagged == every_change - expected
    assert all(Transition(a, b).anomaly for a, b in flagged)
    assert not any(Transition(a, b).anomaly for a, b in expected)


def test_concepts_shows_the_generated_diagram_and_tables():
    text = (DOCS / "concepts.md").read_text()
    assert "](_generated/states.svg)" in text
    assert "```{include} _generated/transitions.md" in text


def test_generated_pages_come_from_the_code(tmp_path, kbdocs):
    import shutil

    svg = kbdocs.state_diagram_svg()
    assert all(f">{state.value}<" in svg for state in KYCState)
    docs = tmp_path / "docs"
    docs.mkdir()
    kbdocs.generate(docs)
    from kycbridge.plugins import PluginRegistry

    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    for info in registry.providers():
        page = (docs / "_generated" / "providers" / f"{info.name}.md").read_text()
        for word, state in info.provider.status_map.rows():
            assert f"| `{word}` | `{state.value}` |" in page
        for scenario in getattr(sims.get(info.name), "scenarios", ()):
            assert scenario.subject.replace("|", "\\|") in page
    tables = (docs / "_generated" / "transitions.md").read_text()
    assert tables == kbdocs.transition_tables()
    shutil.rmtree(docs)


# --- generated provider pages and the comparison page ---------------------------------------


@pytest.fixture
def generated(tmp_path, kbdocs):
    docs = tmp_path / "docs"
    docs.mkdir()
    kbdocs.generate(docs)
    return docs / "_generated" / "providers"


def _registry():
    from kycbridge.plugins import PluginRegistry

    registry = PluginRegistry()
    sims = {s.name: s.simulator for s in registry.simulators()}
    return registry, list(registry.providers()), sims


def test_generated_pages_hold_no_empty_or_double_backticks(generated):
    pages = sorted(generated.glob("*.md"))
    assert {p.stem for p in pages} >= {"index", "compare", "starkfi", "transak"}
    for page in pages:
        text = page.read_text()
        assert "``" not in text, f"{page.name}: two backticks in a row"


def test_code_never_renders_an_empty_pair(kbdocs):
    assert kbdocs.code("") == '`""`'
    assert kbdocs.code("a|b") == "`a\\|b`"
    assert "``" not in kbdocs.code("`x`")


def test_class_docstrings_become_markdown(kbdocs):
    doc = """First line.

        ``NOT_SUBMITTED`` is :class:`~kycbridge.KYCState` and :mod:`.query`.

        >>> 1 + 1
        2
        """
    lines = kbdocs.docstring_markdown(doc)
    text = "\n".join(lines)
    assert "`NOT_SUBMITTED` is `KYCState` and `query`." in text
    assert "~~~pycon\n>>> 1 + 1\n2\n~~~" in text
    assert not any(line.startswith("    ") for line in lines), "indented: a code block"


def test_one_of_rules_are_declared_printed_and_true(generated, kbdocs):
    import kycbridge

    _, infos, sims = _registry()
    declared = {}
    for info in infos:
        groups = kbdocs.one_of_groups(info.provider.query_type)
        page = (generated / f"{info.name}.md").read_text()
        for group in groups:
            declared[info.name] = group
            assert f"Give **exactly one of** {kbdocs._or(group)}" in page
            bridge = kycbridge.Bridge()
            with pytest.raises(kycbridge.InvalidQuery):
                bridge.query(info.name)  # neither
            # both: a valid value for each field, from the simulator's own scenarios
            values = {}
            for scenario in getattr(sims.get(info.name), "scenarios", ()):
                for field in group:
                    if field in scenario.query:
                        values.setdefault(field, scenario.query[field])
            assert set(values) == set(group), "the simulator plays every field of the group"
            with pytest.raises(kycbridge.InvalidQuery):
                bridge.query(info.name, **values)
            for field in group:
                bridge.query(info.name, **{field: values[field]})  # exactly one: fine
        if not groups:
            assert "exactly one of" not in page
    assert declared["starkfi"] == ("email", "wallet")
    assert declared["persona"] == ("inquiry_id", "reference_id")


def test_one_of_refuses_a_wrong_declaration(kbdocs):
    import attrs

    @attrs.frozen
    class Q:
        one_of = (("a", "nope"),)
        a: str | None = None

    with pytest.raises(ValueError, match="bad group"):
        kbdocs.one_of_groups(Q)


def _sandbox_block(page: str) -> list[str]:
    block = page.split("~~~sh\n", 1)[1].split("\n~~~", 1)[0]
    return block.replace("\\\n", " ").splitlines()


def test_each_page_gives_sandbox_credentials_and_a_command_that_works(
    generated, kbdocs, monkeypatch
):
    """Run each page's own commands, as printed, against a sandbox (only the port differs)."""
    import io
    import json
    import shlex

    from kycbridge.cli import main
    from kycbridge.sandbox import Sandbox

    _, infos, sims = _registry()
    with Sandbox.from_installed() as sandbox:
        for info in infos:
            sim = sims[info.name]
            page = (generated / f"{info.name}.md").read_text()
            for key, (value, env) in kbdocs.sandbox_credentials(
                info.name, info.provider, sim
            ).items():
                assert f"| `{key}` | `{value}` | `{env}` |" in page
            for key in sim.settings:
                assert f"| `{key}` |" in page.split("## Sandbox", 1)[1]
            scenario = kbdocs.demo_scenario(sim)
            lines = _sandbox_block(page)
            assert lines[0] == f"kycbridge sandbox --port {kbdocs.SANDBOX_PORT} &"
            printed = f"http://127.0.0.1:{kbdocs.SANDBOX_PORT}/{info.name}"
            real = sandbox.base_urls[info.name]
            env = {}
            commands = []
            for line in lines[1:]:
                words = shlex.split(line)
                if words[0] == "export":
                    key, _, value = words[1].partition("=")
                    env[key] = value
                else:
                    assert words[0] == "kycbridge"
                    assert printed in words
                    commands.append([real if w == printed else w for w in words[1:]])
            assert [c[0] for c in commands] == ["status", "watch"]
            with monkeypatch.context() as m:
                for key in list(os.environ):
                    if key.startswith(f"KYCBRIDGE_{info.name.upper()}_"):
                        m.delenv(key)
                for key, value in env.items():
                    m.setenv(key, value)
                states = []
                for _ in scenario.played:
                    out, err = io.StringIO(), io.StringIO()
                    code = main([*commands[0], "--json"], stdout=out, stderr=err)
                    assert code == 0, (info.name, err.getvalue())
                    states.append(json.loads(out.getvalue())["state"])
                assert states[-1] == scenario.outcome, info.name
                sandbox.reset()  # the watch plays the scenario from its start
                out, err = io.StringIO(), io.StringIO()
                code = main([*commands[1], "--timeout", "60", "--json"], stdout=out, stderr=err)
                assert code == 0, (info.name, err.getvalue())
                last = json.loads(out.getvalue().splitlines()[-1])
                assert last["state"] == scenario.outcome


def test_compare_page_sets_every_provider_side_by_side(generated, kbdocs):
    registry, infos, _ = _registry()
    page = (generated / "compare.md").read_text()
    with_webhooks = {h.name for h in registry.webhooks()}
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
        for line in page.split("## Words and states")[0].splitlines()
        if line.startswith("| [")
    }
    assert set(rows) == {f"[{i.name}]({i.name}.md)" for i in infos}
    import attrs

    from kycbridge.provider import is_secret

    for info in infos:
        cells = rows[f"[{info.name}]({info.name}.md)"]
        query = info.provider.query_type
        for f in attrs.fields(query):
            assert f"`{f.name}`" in (cells[2] if is_secret(f) else cells[1]), f.name
        for f in attrs.fields(info.provider.settings_type):
            if is_secret(f):
                assert f"`{f.name}` (setting)" in cells[2]
        assert cells[4].startswith("yes") == (info.name in with_webhooks)
        assert (cells[3] == "none declared") == (not getattr(info.provider, "rate_limit", None))
    matrix = page.split("## Words and states")[1]
    names = [i.name for i in infos]
    for line in matrix.splitlines():
        if line.startswith("| `"):
            state, *cells = (c.strip() for c in line.strip().strip("|").split("|"))
            state = KYCState(state.split("`")[1])
            assert ("(final)" in line) == (state in FINAL_STATES)
            for name, cell in zip(names, cells):
                info = next(i for i in infos if i.name == name)
                words = [w for w, s in info.provider.status_map.rows() if s is state]
                assert re.findall(r"`([^`]+)`", cell) == [w.replace("|", "\\|") for w in words]
    index = (generated / "index.md").read_text()
    assert "(compare.md)" in index and "\ncompare\n" in index


def test_readme_lists_every_provider_with_what_identifies_a_subject():
    import attrs

    from kycbridge.provider import is_secret

    readme = (DOCS.parent / "README.md").read_text()
    rows = {
        line.split("|")[2].strip().strip("`"): line
        for line in readme.splitlines()
        if line.startswith("| ") and "`plugins/kycbridge-" in line
    }
    _, infos, _ = _registry()
    for info in infos:
        row = rows.get(f"plugins/kycbridge-{info.name}/")
        assert row is not None, f"README has no row for {info.name}"
        for field in attrs.fields(info.provider.query_type):
            if not is_secret(field) and field.default is attrs.NOTHING:
                assert f"`{field.name}`" in row, (info.name, field.name)
        for group in getattr(info.provider.query_type, "one_of", ()):
            assert "exactly one of " + " or ".join(f"`{f}`" for f in group) in row
    for plugin in (DOCS.parent / "plugins").glob("kycbridge-*"):
        assert f"plugins/{plugin.name}/" in rows, f"README has no row for {plugin.name}"


def test_readme_and_quickstart_install_every_plugin_then_run_the_demo():
    command = (
        "python3 -m venv .venv && .venv/bin/pip install -q . ./plugins/kycbridge-* "
        "&& .venv/bin/kycbridge demo"
    )
    assert command in (DOCS.parent / "README.md").read_text()
    assert command in (DOCS / "quickstart.md").read_text()


def test_readme_webhooks_column_matches_the_registered_handlers():
    from kycbridge.plugins import PluginRegistry

    readme = (DOCS.parent / "README.md").read_text()
    rows = {
        line.split("|")[2].strip().strip("`"): line.rstrip().rstrip("|").split("|")[-1].strip()
        for line in readme.splitlines()
        if line.startswith("| ") and "`plugins/kycbridge-" in line and line.count("|") == 5
    }
    handlers = {handler.name for handler in PluginRegistry().webhooks()}
    _, infos, _ = _registry()
    for info in infos:
        expected = "yes" if info.name in handlers else "no"
        assert rows[f"plugins/kycbridge-{info.name}/"] == expected, info.name
