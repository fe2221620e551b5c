"""A snappy command line (issue 13): ``import hccstudy`` and ``import hccstudy.cli`` load no numerical
library, ``--help`` answers without pandas, the public names still resolve lazily, ``--no-figures``
is the override ``report.formats=[]``, and benchmarks/bench_commands.py still runs (its --help rows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hccstudy
from hccstudy import cli

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "scipy", "pandas", "numpy", "pyarrow")


def _loaded_after(code: str) -> set[str]:
    """Top-level packages of ``HEAVY`` in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("code", ["import hccstudy", "import hccstudy.cli", "from hccstudy import __version__"])
def test_import_loads_no_numerical_library(code):
    assert _loaded_after(code) == set()


def test_reading_a_config_does_not_import_the_estimators():
    """validate / flow / plan read the config before any data: that must not load scipy (Table 1's tests)
    or matplotlib; the analysis package resolves its public names on first use."""
    code = ("import hccstudy.config, hccstudy.analysis\n"
            "hccstudy.config.load_config(None)")
    loaded = _loaded_after(code)
    assert not loaded & {"scipy", "matplotlib"}, loaded
    from hccstudy import analysis
    from hccstudy.analysis.run import Results
    assert analysis.Results is Results and set(analysis.__all__) <= set(dir(analysis))


def test_help_of_every_command_loads_no_numerical_library():
    commands = [c.name or c.callback.__name__ for c in cli.app.registered_commands]
    assert {"run", "analyze", "validate"} <= set(commands)
    code = ("import contextlib, io, hccstudy.cli as c\n"
            f"for argv in [['--help'], *[[name, '--help'] for name in {commands!r}]]:\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            c.app(argv)\n"
            "        except SystemExit as e:\n"
            "            assert e.code == 0, (argv, e.code)")
    assert _loaded_after(code) == set()


def test_public_names_resolve_lazily():
    from hccstudy.analysis.run import Results, analyze
    from hccstudy.pipeline import run_study

    assert hccstudy.run_study is run_study
    assert hccstudy.analyze is analyze and hccstudy.Results is Results
    assert set(hccstudy.__all__) <= set(dir(hccstudy))
    for name in hccstudy.__all__:
        assert getattr(hccstudy, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        hccstudy.not_a_name  # noqa: B018


def test_default_seed_matches_the_generator():
    from hccstudy.synth import DEFAULT_SEED

    assert cli.DEFAULT_SEED == DEFAULT_SEED


class _Stop(Exception):
    pass


def test_no_figures_on_analyze_is_the_formats_override(monkeypatch, tmp_path):
    import hccstudy.analysis as analysis
    from hccstudy._yaml import ConfigError

    seen = {}

    def spy(config, overrides=()):
        seen["overrides"] = list(overrides)
        raise ConfigError("stop here")

    monkeypatch.setattr(analysis, "load_analysis_config", spy)
    got = CliRunner().invoke(cli.app, ["analyze", str(tmp_path / "a.yaml"), "--no-figures", "--set", "matching.caliper=0.1"])
    assert got.exit_code == 2
    assert seen["overrides"] == ["matching.caliper=0.1", "report.formats=[]"]
    CliRunner().invoke(cli.app, ["analyze", str(tmp_path / "a.yaml")])
    assert seen["overrides"] == []


def test_no_figures_on_run_is_the_formats_override(monkeypatch, tmp_path):
    import hccstudy.config as config
    from hccstudy._yaml import ConfigError

    seen = {}

    def spy(path=None, overrides=None, assignments=()):
        seen["assignments"] = list(assignments)
        raise ConfigError("stop here")

    monkeypatch.setattr(config, "load_config", spy)
    got = CliRunner().invoke(cli.app, ["run", "--out", str(tmp_path / "o"), "--no-figures"])
    assert got.exit_code == 2
    assert seen["assignments"] == ["analysis.report.formats=[]"]
    assert not (tmp_path / "o").exists()


def test_formats_override_validates():
    from hccstudy.config import load_config

    assert load_config(None, assignments=["analysis.report.formats=[]"]).analysis.report.formats == []
    assert load_config(None).analysis.report.formats == ["png", "svg", "pdf", "tiff"]


def test_bench_commands_help_rows(tmp_path):
    """The benchmark script runs end to end in its tiny mode: JSON, Markdown and a doc pasted between markers."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_commands
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = bench_commands.main(["--only", "help", "validate_help", "--json", str(tmp_path / "c.json"),
                               "--markdown", str(tmp_path / "c.md")])
    assert [r["id"] for r in out] == ["help", "validate_help"]
    for r in out:
        assert "error" not in r, r
        assert r["wall_s"] > 0 and r["cpu_s"] >= 0 and r["peak_rss_mb"] > 5
        assert r["met"] in ("yes", "no") and r["target"] == "<= 0.3 s CPU"
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["machine"]["cores"] >= 1 and saved["results"] == out
    table = (tmp_path / "c.md").read_text()
    assert "| --help |" in table and "| validate --help |" in table
    doc = tmp_path / "perf.md"
    doc.write_text(f"intro\n{bench_commands.BEGIN}\nold\n{bench_commands.END}\noutro\n")
    bench_commands.update_doc(table, doc)
    assert doc.read_text() == f"intro\n{bench_commands.BEGIN}\n{table}{bench_commands.END}\noutro\n"


def test_performance_doc_has_the_generated_table():
    """docs/performance.md holds a table bench_commands wrote (structure only: the numbers are re-measured)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_commands
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert text.count(bench_commands.BEGIN) == 1 and text.count(bench_commands.END) == 1
    table = text.split(bench_commands.BEGIN)[1].split(bench_commands.END)[0]
    assert "| command | wall s | CPU s | peak RSS MB | target | met? | R s (same run) |" in table
    for label in ("--help", "validate --help", "run (built-in study)"):
        assert f"| {label} |" in table
