"""Rubin's rules for multiply imputed analyses, exactly as R ``mice::pool`` and
``summary(pool(fits), type = "all", conf.int = TRUE)`` (mice 3.x, rule "rubin1987").

For each parameter, with m completed-data estimates Q_l and their variances U_l (the diagonal of each
covariance matrix):

    qbar = mean(Q_l)                     ubar = mean(U_l)
    b = var(Q_l) (denominator m - 1)     t = ubar + (1 + 1/m) b
    riv = (1 + 1/m) b / ubar             lambda = (1 + 1/m) b / t
    df = Barnard-Rubin (1999): lambda is floored at 1e-4, nu_old = (m - 1) / lambda^2,
         nu_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda), df = nu_old nu_obs / (nu_old + nu_obs)
         (df = nu_old when dfcom is infinite)
    fmi = (riv + 2 / (df + 3)) / (1 + riv)
    std.error = sqrt(t), statistic = qbar / std.error, p.value = 2 P(T_df > |statistic|),
    CI = qbar -/+ t_{df, 1 - alpha/2} std.error

The complete-data degrees of freedom ``dfcom``: mice takes ``df.residual`` of the fit (n - p for lm/glm);
for a ``coxph`` fit it uses the number of events minus the number of coefficients (``mice:::get.dfcom``);
when neither is known it assumes an infinite sample (``df_complete=None`` here).  Use
:func:`dfcom_cox` for a Cox model.

References: Rubin DB. Multiple Imputation for Nonresponse in Surveys. Wiley, 1987.  Barnard J, Rubin DB.
Small-sample degrees of freedom with multiple imputation. Biometrika 1999;86:948-955.  van Buuren S,
Groothuis-Oudshoorn K. mice: Multivariate Imputation by Chained Equations in R. J Stat Softw 2011;45(3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist


def dfcom_cox(n_events: int, n_coefficients: int) -> int:
    """Complete-data df mice uses for a Cox fit: max(events - coefficients, 1)."""
    return max(int(n_events) - int(n_coefficients), 1)


def barnard_rubin(m: int, b, t, dfcom: float = np.inf) -> np.ndarray:
    """Barnard-Rubin (1999) degrees of freedom, as ``mice:::barnard.rubin`` (lambda floored at 1e-4)."""
    lam = np.maximum((1 + 1 / m) * np.asarray(b, dtype=float) / np.asarray(t, dtype=float), 1e-4)
    dfold = (m - 1) / lam**2
    if np.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def rubin_pool(estimates, variances, df_complete: float | None = None, names: list[str] | None = None,
               conf_level: float = 0.95, exponentiate: bool = False) -> pd.DataFrame:
    """Pool m completed-data fits by Rubin's rules (see module docstring).

    ``estimates``: m x p (or length-m for one parameter); ``variances``: m x p variances, or m x p x p
    covariance matrices (only their diagonals enter, as in mice); ``df_complete``: the complete-data df
    (None: infinite, as mice when it cannot find one; at least 1, as mice).  Returns one row per
    parameter: term, m, estimate, std.error, statistic, df, p.value, lcl, ucl, riv, lambda, fmi, ubar, b,
    t, dfcom -- the columns of ``summary(pool(.), type = "all", conf.int = TRUE)``.  ``exponentiate``
    (e.g. pooled log HRs -> HR): estimate, lcl and ucl are exponentiated, everything else stays on the
    pooling scale, as ``summary(..., exponentiate = TRUE)``.
    """
    q = np.asarray(estimates, dtype=float)
    if q.ndim == 1:
        q = q[:, None]
    if q.ndim != 2:
        raise ValueError(f"estimates must be m x p, got shape {q.shape}")
    m, p = q.shape
    u = np.asarray(variances, dtype=float)
    if u.ndim == 3:
        if u.shape != (m, p, p):
            raise ValueError(f"covariance matrices must be {m} x {p} x {p}, got {u.shape}")
        u = np.diagonal(u, axis1=1, axis2=2)
    elif u.ndim == 1 and p == 1:
        u = u[:, None]
    if u.shape != (m, p):
        raise ValueError(f"variances must be {m} x {p} (or {m} x {p} x {p}), got {u.shape}")
    if m < 2:
        raise ValueError(f"Rubin's rules need at least 2 imputations, got {m}")
    if not (np.isfinite(q).all() and np.isfinite(u).all()) or (u < 0).any():
        raise ValueError("estimates and variances must be finite, variances >= 0")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    names = names or [f"x{j + 1}" for j in range(p)]
    if len(names) != p:
        raise ValueError(f"{len(names)} names for {p} parameters")
    dfcom = np.inf if df_complete is None else max(float(df_complete), 1.0)
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin(m, b, t, dfcom)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
        se = np.sqrt(t)
        stat = qbar / se
    p_value = 2 * t_dist.sf(np.abs(stat), np.maximum(df, 0.001))
    half = t_dist.ppf(1 - (1 - conf_level) / 2, df) * se
    lcl, ucl = qbar - half, qbar + half
    est = qbar
    if exponentiate:
        est, lcl, ucl = np.exp(qbar), np.exp(lcl), np.exp(ucl)
    return pd.DataFrame({"term": names, "m": m, "estimate": est, "std.error": se, "statistic": stat, "df": df,
                         "p.value": p_value, "lcl": lcl, "ucl": ucl, "riv": riv, "lambda": lam,
                         "fmi": fmi, "ubar": ubar, "b": b, "t": t, "dfcom": dfcom})
