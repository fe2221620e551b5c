"""The fast key paths of derivation and validation give the same results as the string-key paths.

derive_patients groups and joins on one integer code per patient (hccstudy.schema.keys) and falls back
to the (centre, patient_id) strings when a child row names an unknown patient; both paths must give
identical tables, in the same row order and dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccstudy.cohort import study as study_mod
from hccstudy.schema.keys import MISSING, joined_key, key_positions, patient_codes

KEYS = ["centre", "patient_id"]


def _frame(centres, ids):
    return pd.DataFrame({"centre": pd.array(centres, dtype="str"), "patient_id": pd.array(ids, dtype="string")})


def test_codes_follow_key_order():
    p = _frame(["b", "a", "a", "ab"], ["2", "10", "9", "1"])
    codes, _ = patient_codes(p, KEYS)
    by_strings = p.sort_values(KEYS, kind="stable").index.to_numpy()
    assert np.array_equal(np.argsort(codes), by_strings)


def test_positions_missing_and_unknown():
    p = _frame(["a", "a", "a"], ["1", None, "1"])
    child = _frame(["a", "a", "b", "a"], ["1", None, "1", "2"])
    # missing parts never match by default; the first matching patient row wins
    assert key_positions(child, joined_key(p, KEYS), KEYS).tolist() == [0, -1, -1, -1]
    # with MISSING, a missing id matches a missing id (as a MultiIndex reindex does)
    assert key_positions(child, joined_key(p, KEYS, MISSING), KEYS, MISSING).tolist() == [0, 1, -1, -1]
    # the separator keeps ("a", "b1") apart from ("ab", "1")
    q = _frame(["ab"], ["1"])
    assert key_positions(_frame(["a"], ["b1"]), joined_key(q, KEYS), KEYS).tolist() == [-1]


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    from hccstudy.schema import IssueLog, ingest
    from hccstudy.synth.generate import generate
    from hccstudy.synth.write import write_cohort

    folder = tmp_path_factory.mktemp("derive_paths")
    write_cohort(generate(seed=3, n_screened=400), folder, excel=False)
    return ingest(folder, log=IssueLog()).tables


@pytest.mark.parametrize("empty", [None, "labs", "adverse_events", "assessments"])
def test_coded_and_string_paths_agree(small_study, monkeypatch, empty):
    """Also with one child table empty (a header-only file): the fuzz campaign found that an empty lab
    table made the AE table's code column object-typed, which the coded path then read as 'no rows'."""
    from hccstudy.cohort.config import load_cohort_config
    from hccstudy.schema import IssueLog

    cfg = load_cohort_config(None)
    if empty is not None:
        small_study = {**small_study, empty: small_study[empty].iloc[:0]}
    fast = study_mod.derive_patients(small_study, cfg, IssueLog())
    monkeypatch.setattr(study_mod, "_coded_tables", lambda tables, p: None)
    slow = study_mod.derive_patients(small_study, cfg, IssueLog())
    for a, b in zip(fast, slow, strict=True):
        assert list(a.columns) == list(b.columns)
        assert a.dtypes.astype(str).tolist() == b.dtypes.astype(str).tolist()
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    if empty is None:
        assert len(fast[1]) and len(fast[2]) and len(fast[3])  # time points, lab toxicity and AEs exercised


def test_orphan_falls_back_to_string_keys(small_study):
    tables = dict(small_study)
    labs = tables["labs"]
    orphan = labs.iloc[:1].copy()
    orphan["patient_id"] = pd.array(["NO-SUCH-PATIENT"], dtype=labs["patient_id"].dtype)
    tables["labs"] = pd.concat([labs, orphan], ignore_index=True)
    p = tables["patients"].dropna(subset=["patient_id"]).drop_duplicates(KEYS).reset_index(drop=True)
    assert study_mod._coded_tables(tables, p) is None
    assert study_mod._coded_tables(small_study, p) is not None


def test_synth_float_text_matches_to_csv():
    """The CSV writers' float text (schema.csvout, used by synth and the analysis table) is what pandas' to_csv
    writes, across magnitudes."""
    from hccstudy.schema.csvout import float_text as _float_text

    rng = np.random.default_rng(7)
    edges = [0.0, -0.0, 1e-5, 9.9e-5, 1e-4, 9999999.999999998, 1e7, 1.5e16, 123456789012345.0, np.inf, -np.inf, np.nan]
    x = np.concatenate([np.round(rng.lognormal(2, 3, 20_000), 2), rng.lognormal(0, 12, 20_000), np.array(edges)])
    expected = pd.DataFrame({"x": x}).to_csv(index=False, lineterminator="\n")
    got = pd.DataFrame({"x": pd.arrays.ArrowStringArray(_float_text(x))}).to_csv(index=False, lineterminator="\n")
    assert got == expected
