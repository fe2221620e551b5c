"""hccstudy's own columns in an analysed table, in one namespace of their own.

``analyze`` never writes into the user's columns: what it adds to the analysed rows (and to
``analysis_table.parquet`` / ``.csv``) is named with the prefix ``.hcc_`` -- a prefix that R, pandas and
spreadsheets accept but that no clinical variable uses -- so a covariate called ``weight`` (body
weight), ``distance``, ``pair`` or ``treated`` is analysed as the covariate it is.  A table whose own
column names start with ``.hcc_`` is refused with a clear error.

========================  ===========================================================================
``.hcc_treated``          True for the arm given as ``arm.treated`` (MatchIt's "treated")
``.hcc_arm``              the arm's label (``arm.labels``)
``.hcc_distance``         the propensity score (or its logit, ``link: linear.logit``)
``.hcc_weight``           MatchIt's matching weight (0 = not in the matched sample)
``.hcc_pair``             the matched set (treated unit and its controls); with replacement only the
                          treated unit's, since a control may serve several sets (see pairs.csv)
``.hcc_match_status``     matched / no control within caliper / no control left / not selected /
                          discarded
========================  ===========================================================================
"""

from __future__ import annotations

PREFIX = ".hcc_"
TREATED = PREFIX + "treated"
ARM = PREFIX + "arm"
DISTANCE = PREFIX + "distance"
WEIGHT = PREFIX + "weight"
PAIR = PREFIX + "pair"
STATUS = PREFIX + "match_status"
TIME = PREFIX + "time"        # working columns of the outcome analyses (never written out)
EVENT = PREFIX + "event"
CLUSTER = PREFIX + "cluster"
