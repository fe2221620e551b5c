"""The calibrated synthetic cohort: determinism, exact flow, exclusions for the right reason, units and
formats, and the calibration check on several seeds (it runs the real pipeline)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hccstudy import load_study
from hccstudy.cli import app
from hccstudy.synth import DEFAULT_SEED, generate, write_cohort
from hccstudy.synth.calibration import calibration_table, constructed, median_ci
from hccstudy.synth.generate import EXCLUSION_SHARES

runner = CliRunner()


@pytest.fixture(scope="module")
def default_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "study"
    cohort = generate(DEFAULT_SEED)
    write_cohort(cohort, root)
    return cohort, root, load_study(root)


@pytest.mark.costly  # three whole cohorts generated and written: queued early (conftest)
def test_same_seed_gives_byte_identical_files(tmp_path, tree_digest):
    """Seed 4 takes the generator's fallbacks (the matched-sample search past 800 evaluations, the
    outcome stage's second schedule), so their seeded steps are covered too."""
    write_cohort(generate(4), tmp_path / "a")
    write_cohort(generate(4), tmp_path / "b")
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert a == b
    assert "central.xlsx" in a and "east/labs.csv" in a
    write_cohort(generate(1), tmp_path / "c")
    c = tree_digest(tmp_path / "c")
    assert set(c) == set(a)
    assert all(c[k] != a[k] for k in a)  # a different seed changes every file


def test_flow_is_exact_and_every_reason_fires(default_study):
    cohort, _, study = default_study
    flow = study.flow.set_index(["step", "criterion"])["n"]
    assert flow[("screened", "")] == 3923
    assert flow[("included", "")] == 575
    assert (flow[("arm", "SE")], flow[("arm", "SI")]) == (200, 375)
    excluded = {c: int(flow[("excluded", c)]) for c in EXCLUSION_SHARES}
    assert sum(excluded.values()) == 3923 - 575
    assert all(n >= 50 for n in excluded.values()), excluded  # each reason fires for a plausible number


def test_each_patient_is_excluded_for_the_intended_reason(default_study):
    cohort, _, study = default_study
    got = study.patients[["centre", "patient_id", "exclusion_reason"]].merge(
        cohort.truth[["centre", "patient_id", "reason"]], on=["centre", "patient_id"], validate="one_to_one")
    assert len(got) == 3923
    reason = got["exclusion_reason"].astype(object).where(got["exclusion_reason"].notna(), "")
    assert (reason.to_numpy() == got["reason"].to_numpy()).all()
    # nobody fails a second criterion by accident, except what follows from the rules: Child-Pugh C and
    # ECOG >= 3 make the stage BCLC D, and incomplete data may leave a criterion undecidable
    p = study.patients
    fails = p.filter(like="fails_").drop(columns="fails_bclc_c").sum(axis=1).to_numpy()
    first = p["exclusion_reason"].astype(object).to_numpy()
    assert (fails[first != "complete_data"] <= 1).all()
    bclc_d = p["fails_bclc_c"].to_numpy() & np.isin(first, ["child_pugh_ab", "ecog_0_1"])
    assert (p.loc[bclc_d, "bclc_stage"] == "D").all()
    assert not (p["fails_bclc_c"].to_numpy() & ~np.isin(first, ["bclc_c", "child_pugh_ab", "ecog_0_1", "complete_data"])).any()


def test_centres_units_and_formats(default_study):
    _, root, study = default_study
    assert sorted(p.name for p in root.iterdir()) == ["central.xlsx", "east", "north", "south", "west"]
    east = pd.read_csv(root / "east" / "patients.csv")
    assert set(east["bilirubin_unit"]) == {"mg/dL"} and set(east["albumin_unit"]) == {"g/dL"}
    assert east["bilirubin"].median() < 5  # mg/dL, not µmol/L
    # after conversion the pipeline sees the same distribution in every centre
    p = study.patients
    med = p.groupby("centre")["bilirubin"].median()
    assert med.max() / med.min() < 1.3
    assert study.validation.n_errors == 0
    assert set(study.validation.issues["rule"]) == {"missing_value"}  # only the incomplete-data patients


def test_derived_values_match_the_generator(default_study):
    cohort, _, study = default_study
    a = study.analysis.merge(cohort.truth, on=["centre", "patient_id"], suffixes=("", "_truth"))
    assert len(a) == 575
    assert (a["arm"] == a["arm_truth"]).all()
    assert (a["haic_cycles"] == a["n_cycles"]).all()
    assert (a["bclc_stage"] == "C").all()
    assert set(a["child_pugh_class"]) == {"A", "B"}
    # ALBI follows Child-Pugh (the correlation the generator builds through the components)
    assert a.loc[a["child_pugh_class"] == "B", "albi_score"].mean() > a.loc[a["child_pugh_class"] == "A", "albi_score"].mean() + 0.3
    # death recorded <-> OS event, within rounding of days
    dead = a["died"].to_numpy()
    assert (a["os_event"].to_numpy() == dead).all()
    np.testing.assert_allclose(a.loc[dead, "os_months"], a.loc[dead, "t_os"], atol=1 / 30)


def test_default_seed_constructed_targets_within_band(builtin_run):
    """The default run's reproduction table (the session's shared built-in run): every target the
    generator builds by construction is within its band -- flow, Table 1 before matching (counts, means
    and SDs at the published decimals, the P values at theirs), response and AE counts exactly, 182
    pairs, the OS medians +-0.3, rates +-2 pp, log-rank P within x1.5, follow-up +-0.5."""
    table = builtin_run.calibration
    assert len(table) > 200 and {"published", "recovered", "tolerance", "ok", "checked", "note"} <= set(table.columns)
    mask = constructed(table)
    assert mask.sum() >= 150
    bad = table[mask & ~table["ok"]]
    assert bad.empty, bad.to_string()
    row = table.set_index(["group", "target"])
    assert row.loc[("matching", "matched pairs"), "recovered"] == 182
    assert row.loc[("table1", "age P"), "recovered"] == pytest.approx(0.616, abs=5e-4)
    assert row.loc[("table1", "max_diameter_cm P"), "recovered"] == pytest.approx(0.707, abs=5e-4)
    # the dropped targets say why, with the arithmetic
    dropped = table[~table["checked"]]
    assert set(dropped["target"]) == {"HAIC cycles > 4 n (SE)", "HAIC cycles > 4 n (SI)",
                                      "HAIC cycles > 4 n after (SE)", "HAIC cycles > 4 n after (SI)"}
    assert dropped["note"].str.contains("contradicts the text's HAIC cycle mean").all()
    assert "(176x5 + 24x2)/200 = 4.64 > the published 4.01" in dropped["note"].iloc[0]


def test_default_seed_every_target_within_band(builtin_run):
    """Issue 15's bar: every checked target of the default run's reproduction table within its band --
    the after-matching Table 1 of the propensity factors and the outcome targets included."""
    table = builtin_run.calibration
    assert table["checked"].sum() >= 215
    bad = table[~table["ok"]]
    assert bad.empty, bad.to_string()


@pytest.mark.slow  # five cohorts through the pipeline (~90 s CPU): only with -m slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_other_seeds_within_widened_bands(request, seed):
    """Seeds 1-5: every checked target within its band widened by +- 2 SD of the seed-to-seed spread
    measured on seeds 6-16 (tests/reference/synth_seed_spread.json, ``python -m hccstudy.synth.seeds 6 16
    tests/reference/synth_seed_spread.json``); exact targets exactly, text targets (the selected
    variables, "not reached") as published."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a whole cohort through the pipeline per seed: run with -m slow")
    from hccstudy.synth.seeds import tables
    spread = json.loads((Path(__file__).parent / "reference" / "synth_seed_spread.json").read_text())
    sd = {(r["group"], r["target"]): r["sd"] for r in spread["spread"]}
    t = tables([seed])[seed]
    t = t[t["checked"]]
    lo = pd.to_numeric(t["lower"], errors="coerce")
    hi = pd.to_numeric(t["upper"], errors="coerce")
    rec = pd.to_numeric(t["recovered"], errors="coerce")
    widen = np.array([2 * sd.get((g, x), 0.0) for g, x in zip(t["group"], t["target"], strict=True)])
    exact = t["tolerance"].isin(["exact"]) | t["tolerance"].str.startswith("equal at") | lo.isna()
    ok = np.where(exact, t["ok"], (rec >= lo - widen - 1e-9) & (rec <= hi + widen + 1e-9))
    assert ok.all(), t[~ok].to_string()


def test_reproduction_check_fails_when_a_target_moves(builtin_run, monkeypatch):
    """The check can fail: moving one published target (SE's median OS, 16.1 -> 17.1 months) by more
    than its band makes exactly that row fail on the same cohort."""
    from hccstudy.synth import targets
    run = builtin_run
    pairs = run.results.matching.n_pairs
    before = calibration_table(run.study, run.results.matched, pairs).set_index(["group", "target"])
    assert before.loc[("os", "median (SE)"), "ok"]
    monkeypatch.setattr(targets, "OS_MEDIAN", (17.1, targets.OS_MEDIAN[1]))
    after = calibration_table(run.study, run.results.matched, pairs).set_index(["group", "target"])
    assert not after.loc[("os", "median (SE)"), "ok"]
    changed = before["ok"] != after["ok"]
    assert list(before.index[changed]) == [("os", "median (SE)")]


def test_polish_cox_moves_a_coefficient_onto_its_target():
    """construct.polish_cox on a hand-made sample: 200 patients in two groups, one binary covariate
    with no effect (HR ~ 1); outcome swaps within a group bring the fitted HR (R's coxph, Breslow = Efron
    without ties) to the target 2.0 within its band, every patient's outcome comes from their group
    and never falls before their floor."""
    from hccstudy.stats.cox import coxph
    from hccstudy.synth.construct import polish_cox

    rng = np.random.default_rng(3)
    n = 200
    group = np.repeat([0, 1], n // 2)
    x = (rng.random(n) < 0.4).astype(float)
    time = np.round(rng.exponential(300, n) + 1 + np.arange(n) * 1e-3, 3)   # no ties
    event = rng.random(n) < 0.8
    floor = np.where(rng.random(n) < 0.1, np.quantile(time, 0.2), 0.0)
    floor = np.minimum(floor, time)   # each patient's own outcome fits
    X = x[:, None]
    beta0 = np.asarray(coxph(time, event, X, ties="breslow").coefficients, dtype=float)
    assert abs(np.exp(beta0[0]) - 2.0) > 0.5
    got = polish_cox(np.random.default_rng(1), time, event, group, floor,
                     [(X, beta0, np.log([2.0]), np.array([0.03 / 2.0]), np.ones(n, dtype=bool))], steps=200)
    assert sorted(got) == list(range(n)) and (group[got] == group).all()
    assert (time[got] >= floor).all()
    hr = float(np.exp(coxph(time[got], event[got], X, ties="breslow").coefficients[0]))
    assert hr == pytest.approx(2.0, abs=0.05)


def test_cox_misses_are_full_refit_misses_in_band_units():
    """construct.cox_misses: (beta - target) / band per targeted coefficient from a full Cox fit of the
    arrangement (R's coxph, Breslow = Efron without ties), NaN targets left out."""
    from hccstudy.stats.cox import coxph
    from hccstudy.synth.construct import cox_misses

    rng = np.random.default_rng(5)
    n = 150
    x = np.c_[rng.random(n) < 0.5, rng.normal(size=n)].astype(float)
    time = np.round(rng.exponential(200, n) + 1 + np.arange(n) * 1e-3, 3)
    event = rng.random(n) < 0.7
    got = rng.permutation(n)
    beta = np.asarray(coxph(time[got], event[got], x, ties="breslow").coefficients, dtype=float)
    uni = np.asarray(coxph(time[got], event[got], x[:, :1], ties="breslow").coefficients, dtype=float)
    rows = np.ones(n, dtype=bool)
    z = cox_misses(time, event, got, [(x, beta, np.array([beta[0] - 0.02, np.nan]), np.array([0.01, 0.01]), rows),
                                      (x[:, :1], uni, uni + 0.03, np.array([0.06]), rows)])
    assert z == pytest.approx([2.0, -0.5], abs=1e-7)


def test_assign_outcomes_takes_the_first_schedule_within_band_else_the_least_miss(monkeypatch):
    """The outcome stage tries OUTCOME_SCHEDULES in order: it stops at the first whose polished Cox
    misses are all within COX_MISS_OK bands and whose univariable screen selects the paper's variables,
    else keeps the try with the fewest wrongly selected variables, then the least sum of squared misses
    -- with that try's changes to the baseline (each try starts from the same baseline)."""
    G = importlib.import_module("hccstudy.synth.generate")

    def run(misses, wrong=(0, 0, 0)):
        tried = []

        def once(seed, b, arm, matched, n_cyc, t_os, cens, t_prog, floor_m, iterations, step):
            k = len(tried)
            tried.append((iterations, step))
            assert (b["x"] == 0).all()           # a fresh copy of the baseline every try
            b["x"][:] = k + 1
            return t_os + k, cens, t_prog, np.asarray(misses[k], dtype=float), wrong[k]

        monkeypatch.setattr(G, "_outcomes_once", once)
        b = {"x": np.zeros(3)}
        t_os, _, _ = G._assign_outcomes(0, b, None, None, None, np.zeros(2), np.zeros(2), np.zeros(2), None)
        return tried, int(t_os[0]), int(b["x"][0])

    tried, kept, x = run([[0.2, -1.4], [9.0], [9.0]])
    assert tried == list(G.OUTCOME_SCHEDULES[:1]) and (kept, x) == (0, 1)
    tried, kept, x = run([[3.0, 0.1], [1.2, -1.6], [2.5]])   # none within 1.5: least sum of squares (2nd)
    assert tried == list(G.OUTCOME_SCHEDULES) and (kept, x) == (1, 2)
    tried, kept, x = run([[3.0], [1.6], [0.4, 1.5]])          # the third is within band
    assert len(tried) == 3 and (kept, x) == (2, 3)
    tried, kept, x = run([[0.1], [0.2], [3.0]], wrong=(1, 2, 0))   # in band but a variable selected wrongly
    assert len(tried) == 3 and (kept, x) == (2, 3)
    tried, kept, x = run([[0.1], [0.2], [0.3]], wrong=(2, 1, 1))   # fewest wrong first, then least miss
    assert len(tried) == 3 and (kept, x) == (1, 2)


def _tail_cohort(seed: int):
    """200 Exp(1) latent death times, no floor, everyone censored at 60 months, and the map's upper CI
    limit of the median with the observed times: upper(k_in, k_out) -> (limit, observed months)."""
    from hccstudy.stats.km import kaplan_meier
    from hccstudy.synth.construct import _observed

    latent = np.random.default_rng(seed).exponential(1.0, 200)
    floor, cens = np.zeros(200), np.full(200, 60.0)

    def upper(ki, ko):
        obs, ev, _ = _observed(latent, floor, cens, ki, ko)
        return kaplan_meier(obs, ev).median[2], obs

    return latent, floor, cens, upper


def test_upper_limit_open_stretches_only_the_tail():
    """generate._upper_limit_open: where deaths after the last knot (40 months) bring the upper
    confidence limit of S(t) below 0.5 -- the median's upper CI limit reached, where the paper has
    "not reached" -- the map beyond that knot is stretched (those deaths move past the censoring);
    nothing up to 40 months moves.  Unchanged where the limit is not reached, or cannot be kept open
    (S(40) far below 0.5)."""
    from hccstudy.synth.generate import _upper_limit_open

    latent, floor, cens, upper = _tail_cohort(11)
    k_in = np.r_[0.0, np.quantile(latent, [0.5, 0.55])]
    k_out = np.array([0.0, 20.0, 40.0])
    hi, obs0 = upper(k_in, k_out)
    assert np.isfinite(hi) and hi > 40          # reached by a death after 40 months
    ki, ko = _upper_limit_open(latent, floor, cens, k_in, k_out)
    hi1, obs1 = upper(ki, ko)
    assert np.isnan(hi1)
    assert np.array_equal(ki[:3], k_in) and np.array_equal(ko[:3], k_out) and len(ki) == 4
    early = obs0 <= 40
    assert np.array_equal(obs1[early], obs0[early])
    # not reached already: unchanged
    assert _upper_limit_open(latent, floor, cens, ki, ko)[1] is ko
    # S(40) = 0.2: no stretch of the tail opens it -- unchanged
    k_low = np.r_[0.0, np.quantile(latent, [0.5, 0.8])]
    same = _upper_limit_open(latent, floor, cens, k_low, k_out)
    assert same[0] is k_low and same[1] is k_out


def test_upper_limit_near_places_the_upper_limit():
    """generate._upper_limit_near: where the median's upper CI limit (first time S exp(1.96 se) <= 0.5)
    lands more than UPPER_LIMIT_BAND from the published one, a knot at the published time brings it
    within the band; times before the previous knot and after the next one do not move.  Unchanged
    where it is within the band already."""
    from hccstudy.synth.generate import UPPER_LIMIT_BAND, _upper_limit_near

    latent, floor, cens, upper = _tail_cohort(12)
    k_in = np.r_[0.0, np.quantile(latent, [0.5, 0.6])]
    k_out = np.array([0.0, 20.0, 40.0])
    hi0, obs0 = upper(k_in, k_out)
    limit = 24.0
    assert hi0 - limit > UPPER_LIMIT_BAND          # the limit lands late
    ki, ko = _upper_limit_near(latent, floor, cens, k_in, k_out, limit)
    hi1, obs1 = upper(ki, ko)
    assert abs(hi1 - limit) <= UPPER_LIMIT_BAND
    assert list(ko[:4]) == [0.0, 20.0, limit, 40.0] and ki[1] == k_in[1] and ki[3] == k_in[2]
    fixed = (obs0 <= 20) | (obs0 >= 40)
    assert np.array_equal(obs1[fixed], obs0[fixed])
    same = _upper_limit_near(latent, floor, cens, ki, ko, limit)   # within the band: unchanged
    assert same[0] is ki and same[1] is ko


def test_size_scales_the_counts():
    c = generate(1, n_screened=39230)
    p = pd.concat([t["patients"] for t in c.tables.values()])
    assert len(p) == 39230
    t = c.truth
    assert int(t["eligible"].sum()) == 5750
    assert int((t["eligible"] & (t["arm"] == "SE")).sum()) == 2000


def test_median_ci_order_statistics():
    x = np.arange(1, 101, dtype=float)
    med, lo, hi = median_ci(x, 0.95)
    assert med == 50.5 and lo < med < hi
    assert (lo, hi) == (40.0, 61.0)  # ranks n/2 - 1.96 sqrt(n)/2 = 40.2 -> 40, n/2 + 1.96 sqrt(n)/2 + 1 = 60.8 -> 61


@pytest.mark.costly  # a whole cohort through the pipeline: queued early (conftest)
def test_cli_synth_check_and_errors(tmp_path):
    r = runner.invoke(app, ["synth", "--check", "--seed", "2"])
    # exit 1 while a target is outside its band (issue 15's tuned targets); the count line says how many
    m = re.search(r"(\d+) of (\d+) targets within tolerance", r.output)
    assert m and int(m.group(2)) > 200, r.output
    assert r.exit_code == (0 if m.group(1) == m.group(2) else 1), r.output
    assert runner.invoke(app, ["synth"]).exit_code == 2  # nothing to do
    assert runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--patients", "10"]).exit_code == 2
    out = tmp_path / "cohort"
    assert runner.invoke(app, ["synth", "--out", str(out), "--seed", "4"]).exit_code == 0
    assert (out / "central.xlsx").exists()
    assert runner.invoke(app, ["synth", "--out", str(out)]).exit_code == 2  # exists, no --force


def test_tables_are_raw_records_only(default_study):
    cohort, _, _ = default_study
    derived = {"child_pugh_class", "child_pugh_score", "albi_score", "bclc_stage", "arm", "os_months", "pfs_months",
               "bor", "os_event"}
    for tables in cohort.tables.values():
        for name, df in tables.items():
            assert not derived & set(df.columns), (name, derived & set(df.columns))


def test_run_without_data_uses_the_synthetic_cohort(builtin_cli_run, tmp_path: Path):
    """`hccstudy run` without a study folder says so, and runs on the synthetic cohort it writes (the
    session's one fresh CLI run of the built-in study, tests/conftest.py)."""
    taken = tmp_path / "taken"
    taken.write_text("x")  # refused before computing: the notice comes first
    r = runner.invoke(app, ["run", "--out", str(taken)])
    assert r.exit_code == 2 and "synthetic" in r.output and "is a file" in r.output, r.output
    out, r = builtin_cli_run.out, builtin_cli_run
    assert r.exit_code == 0, r.output
    assert (out / "synthetic-data" / "central.xlsx").exists()
    assert len(pd.read_parquet(out / "analysis_table.parquet")) == 575
    cal = pd.read_csv(out / "calibration.csv", keep_default_na=False, na_values=[""])
    assert len(cal) > 200 and cal.loc[constructed(cal), "ok"].all()


def test_no_endpoint_from_a_sentinel_date(default_study):
    """OS and PFS of every screened patient lie within the data's own span (first HAIC to the last date
    in any record); a patient alive with no last follow-up date has no OS at all (issue 17)."""
    _, _, study = default_study
    p = study.patients
    dates = [t[c] for t in study.tables.values() for c in t.columns if pd.api.types.is_datetime64_any_dtype(t[c])]
    last = max(d.max() for d in dates if d.notna().any())
    span = (last - p["first_haic_date"].min()).days / 30.4375
    for ep in ("os", "pfs"):
        t = p[f"{ep}_months"]
        assert (t.dropna() <= span).all() and (t.dropna() >= 0).all(), ep
        assert p.loc[t.isna(), f"{ep}_event"].isna().all()
    no_followup = p["death_date"].isna() & p["last_followup_date"].isna()
    assert no_followup.sum() > 0  # the generator writes such patients (excluded as incomplete)
    assert p.loc[no_followup, "os_months"].isna().all()
    assert not p.loc[no_followup, "included"].any()


@pytest.mark.parametrize("seed,n", [(3, 400), (1, 60), (2, 20)])
def test_small_cohorts_generate(seed, n):
    """Any size (``hccstudy synth --patients N``): the constructions aim at what a small cohort allows
    and skip what it cannot give (a Figure 4 level without deaths, a mean no sum of grid values prints
    as) instead of failing; the screened count is exact."""
    from hccstudy.synth.generate import generate

    c = generate(seed, n)
    assert len(c.truth) == n
    assert sum(len(t["patients"]) for t in c.tables.values()) == n
