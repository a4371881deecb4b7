"""Cold start: wall time of ``kycbridge providers`` in a fresh interpreter.

Baseline: ``python -c "import urllib3, attrs, cattrs, pluggy"`` (kycbridge's dependencies,
nothing of its own). Three commands alternate, round after round: the baseline, the CLI with
the installed plugins, and the CLI with 50 more trivial plugins: a temporary directory on
``PYTHONPATH`` holding 50 ``<dist>.dist-info`` + module pairs, each with a ``kycbridge``
entry point registering a subclass of one shared toy provider (as ``tests/test_plugins.py``
fakes installed distributions). Growth per plugin = (median with 50 more - median without)
/ 50: what kycbridge spends per plugin (entry point, metadata, import, registration). A
fourth command, for information, installs 50 plugins that each define their own attrs
classes, as real plugins do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

from common import Options, Result, fmt_time, median

NAME = "coldstart"
TARGET = 1.5
GROWTH_TARGET = 1e-3
EXTRA = 50
CLI = str(Path(sys.executable).with_name("kycbridge"))

TOY = """
import attrs
import kycbridge


@attrs.frozen
class Query:
    subject: str


@attrs.frozen
class Settings:
    base_url: str = "https://example.invalid"


class ToyProvider(kycbridge.HTTPStatusProvider):
    name = "toy"
    query_type = Query
    settings_type = Settings
    details_type = Query
    status_map = kycbridge.StatusMap({"OK": kycbridge.KYCState.APPROVED})
"""

PLUGIN = """
import kycbridge
from kbbench_toy import ToyProvider

KYCBRIDGE_PLUGIN_API = "1.0"


class Provider(ToyProvider):
    name = "{name}"


@kycbridge.hookimpl
def register_providers(register):
    register(Provider())
"""

REGISTER_TOY = """

KYCBRIDGE_PLUGIN_API = "1.0"


@kycbridge.hookimpl
def register_providers(register):
    register(ToyProvider())
"""


def write_plugins(site: Path, count: int, *, own_classes: bool = False) -> None:
    """``count`` fake installed distributions, each registering one small provider.

    Each subclasses one shared toy provider or, with ``own_classes``, defines its own attrs
    query and settings classes (what a real plugin does).
    """
    (site / "kbbench_toy.py").write_text(TOY)
    for i in range(count):
        module, dist = f"kbbench_{i:02d}", f"kbbench-{i:02d}"
        if own_classes:
            source = TOY.replace('name = "toy"', f'name = "{module}"') + REGISTER_TOY
        else:
            source = PLUGIN.format(name=module)
        (site / f"{module}.py").write_text(source)
        info = site / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[kycbridge]\n{module} = {module}\n")


def wall(argv: list[str], env: dict[str, str]) -> float:
    """Seconds one command takes, start to exit (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def plugin_dir(root: Path, name: str, env: dict[str, str], own_classes: bool) -> dict[str, str]:
    """Write the fake plugins under ``root/name``; the env that installs them. Checks they load."""
    site = root / name
    site.mkdir()
    write_plugins(site, EXTRA, own_classes=own_classes)
    env = {**env, "PYTHONPATH": str(site)}
    listed = subprocess.run(  # also writes their .pyc files, as pip would
        [CLI, "providers"], env=env, check=True, capture_output=True, text=True
    ).stdout
    if listed.count("kbbench-") != EXTRA or "BROKEN" in listed:
        raise RuntimeError(f"the fake plugins did not all load:\n{listed}")
    return env


def run(opts: Options) -> list[Result]:
    rounds = 2 if opts.quick else 30
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KYCBRIDGE_", "PYTHON"))}
    times: dict[str, list[float]] = {"baseline": [], "two": [], "more": [], "own": []}
    with tempfile.TemporaryDirectory(prefix="kycbridge-bench-") as tmp:
        commands = {
            "baseline": ([sys.executable, "-c", "import urllib3, attrs, cattrs, pluggy"], env),
            "two": ([CLI, "providers"], env),
            "more": ([CLI, "providers"], plugin_dir(Path(tmp), "shared", env, False)),
            "own": ([CLI, "providers"], plugin_dir(Path(tmp), "own", env, True)),
        }
        deadline = time.monotonic() + 120
        for i in range(rounds):
            for name in list(commands) if i % 2 == 0 else reversed(commands):
                times[name].append(wall(*commands[name]))
            if time.monotonic() > deadline:
                break
    base, two, more, own = (median(times[k]) for k in ("baseline", "two", "more", "own"))
    growth, own_growth = (more - two) / EXTRA, (own - two) / EXTRA
    n = len(times["two"])
    installed = len(entry_points(group="kycbridge"))  # the plugins installed here
    return [
        Result(
            name=f"{NAME}[{installed} plugins]",
            kycbridge=fmt_time(two),
            baseline=fmt_time(base),
            ratio=two / base,
            target=f"<= {TARGET}x",
            passed=two / base <= TARGET,
            target_ratio=TARGET,
            notes=[f"`kycbridge providers` vs importing the 4 dependencies; {n} runs each"],
            data={"kycbridge_s": times["two"], "baseline_s": times["baseline"]},
        ),
        Result(
            name=f"{NAME}[+{EXTRA} plugins]",
            kycbridge=fmt_time(more),
            baseline=fmt_time(two),
            ratio=more / two,
            target=f"<= {GROWTH_TARGET * 1e3:g} ms/plugin",
            passed=growth <= GROWTH_TARGET,
            target_ratio=(two + EXTRA * GROWTH_TARGET) / two,
            notes=[
                f"{growth * 1e3:.2f} ms per extra plugin (baseline: the {installed}-plugin run)"
            ],
            data={"kycbridge_s": times["more"], "baseline_s": times["two"], "growth_s": growth},
        ),
        Result(
            name=f"{NAME}[+{EXTRA} own-class]",
            kycbridge=fmt_time(own),
            baseline=fmt_time(two),
            ratio=own / two,
            target="info",
            passed=None,
            notes=[
                f"{own_growth * 1e3:.2f} ms per extra plugin when each defines its own two "
                "attrs classes (attrs generates and compiles their methods at import)"
            ],
            data={"kycbridge_s": times["own"], "baseline_s": times["two"], "growth_s": own_growth},
        ),
    ]
