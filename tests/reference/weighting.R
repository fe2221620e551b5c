# Fixtures for hccstudy.stats.weighting and the weighted balance of hccstudy.stats.balance
# (R 4.2.2; cobalt and WeightIt are not installed, so their formulas are written out here, cited).
# Run: Rscript tests/reference/weighting.R  (writes tests/reference/weighting.json)
#
# Data: MatchIt::lalonde (treat ~ age + educ + race + married + nodegree + re74 + re75) and
# survival::veteran (trt == 2 ~ karno + diagtime + age + prior + celltype); PS from glm(binomial).
# Weights (WeightIt get_w_from_ps, binary treatment):
#   ATE 1/e | 1/(1-e); ATT 1 | e/(1-e); ATC (1-e)/e | 1; ATO 1-e | e.
#   stabilize = TRUE (WeightIt stabilize_w): w * mean(treat == own arm), for every estimand.
#   Trimming (hccstudy's definition, not WeightIt's trim()): PS outside quantile(e, c(lo, hi)) (type 7)
#   -> weight 0; stabilisation proportions from the retained units.
# Effective sample size (cobalt/WeightIt ESS): sum(w)^2 / sum(w^2) per arm.
# Balance (cobalt bal.tab defaults, binary treatment; cobalt col_w_smd / col_w_vr / col_w_ks / col.w.v):
#   terms: factors as every level (splitfactor drop.first = "if2" keeps all levels of a >2-level factor;
#     a logical/0-1 column stays one binary term);
#   weighted mean: sum(w x) / sum(w) within arm;
#   SMD = (m1 - m0) / denom, denom from the UNWEIGHTED sample (no s.weights):
#     ATE, ATO: pooled sqrt((v1 + v0) / 2); ATT: sqrt(v1); ATC: sqrt(v0);
#     v: continuous n - 1 variance; binary p (1 - p);
#     |m1 - m0| < sqrt(.Machine$double.eps) (check_if_zero): not standardised;
#     cobalt displays binary terms as the raw difference (binary = "raw"), continuous standardised;
#   variance ratio (continuous only) v1_w / v0_w with col.w.v: w normalised to sum 1 within arm,
#     sum(w (x - m_w)^2) / (1 - sum(w^2));
#   KS (col_w_ks): max over the sorted whole sample of |cumsum(w1 / sum w1 - w0 / sum w0)| at the last
#     position of each distinct value; binary: |m1 - m0|;  eCDF mean (MatchIt qqsum): the mean of the same.
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

iptw <- function(e, t, est) switch(est, ATE = ifelse(t, 1 / e, 1 / (1 - e)), ATT = ifelse(t, 1, e / (1 - e)),
                                   ATC = ifelse(t, (1 - e) / e, 1), ATO = ifelse(t, 1 - e, e))
stab <- function(w, t, keep = rep(TRUE, length(t))) {
  p1 <- mean(t[keep]); w * ifelse(t, p1, 1 - p1)
}
ess <- function(w) sum(w)^2 / sum(w^2)
wvar <- function(x, w, bin) {
  w <- w / sum(w); m <- sum(w * x)
  if (bin) m * (1 - m) else sum(w * (x - m)^2) / (1 - sum(w^2))
}
ks <- function(x, t, w) {
  w1 <- ifelse(t, w, 0); w0 <- ifelse(t, 0, w)
  v <- w1 / sum(w1) - w0 / sum(w0)
  o <- order(x); cv <- abs(cumsum(v[o]))[c(diff(x[o]) != 0, TRUE)]
  c(mean = mean(cv), max = max(cv))
}
balance <- function(M, t, w, est) {
  out <- list()
  for (j in colnames(M)) {
    x <- M[, j]; bin <- all(x %in% c(0, 1))
    v1 <- wvar(x[t], rep(1, sum(t)), bin); v0 <- wvar(x[!t], rep(1, sum(!t)), bin)
    den <- switch(est, ATE = sqrt((v1 + v0) / 2), ATO = sqrt((v1 + v0) / 2), ATT = sqrt(v1), ATC = sqrt(v0))
    one <- function(ww) {
      m1 <- sum(ww[t] * x[t]) / sum(ww[t]); m0 <- sum(ww[!t] * x[!t]) / sum(ww[!t]); d <- m1 - m0
      smd <- if (abs(d) < sqrt(.Machine$double.eps)) d else d / den
      k <- if (bin) c(mean = abs(d), max = abs(d)) else ks(x, t, ww)
      list(mean_treated = m1, mean_control = m0, smd = smd, diff = if (bin) d else smd,
           var_ratio = if (bin) NA else wvar(x[t], ww[t], FALSE) / wvar(x[!t], ww[!t], FALSE),
           ecdf_mean = unname(k["mean"]), ecdf_max = unname(k["max"]))
    }
    out[[j]] <- list(binary = bin, sd_denominator = den, before = one(rep(1, length(x))), after = one(w))
  }
  out
}
all_levels <- function(d, vars) {  # model matrix with every level of each factor
  cols <- list()
  for (v in vars) {
    x <- d[[v]]
    if (is.character(x) || is.factor(x)) for (l in sort(unique(as.character(x)))) cols[[paste0(v, l)]] <- as.numeric(x == l)
    else cols[[v]] <- as.numeric(x)
  }
  do.call(cbind, cols)
}
one_set <- function(d, treat, vars, trim = c(0.05, 0.95)) {
  f <- as.formula(paste(treat, "~", paste(vars, collapse = " + ")))
  e <- unname(fitted(glm(f, family = binomial, data = d)))
  t <- d[[treat]] == 1
  M <- all_levels(d, vars)
  q <- unname(quantile(e, trim, type = 7)); trimmed <- e < q[1] | e > q[2]
  res <- list(formula = deparse(f), covariates = vars, treat = as.integer(t), ps = e,
              data = lapply(as.data.frame(d[vars], stringsAsFactors = FALSE), function(x) if (is.factor(x)) as.character(x) else x),
              trim = trim, trim_quantiles = q, trimmed = trimmed, estimands = list())
  for (est in c("ATE", "ATT", "ATC", "ATO")) {
    w <- iptw(e, t, est); ws <- stab(w, t)
    wt <- ifelse(trimmed, 0, w); wts <- stab(wt, t, !trimmed)
    res$estimands[[est]] <- list(
      w = w, w_stabilized = ws, w_trimmed = wt, w_trimmed_stabilized = wts,
      ess_treated = ess(w[t]), ess_control = ess(w[!t]),
      ess_trimmed_treated = ess(wt[t]), ess_trimmed_control = ess(wt[!t]),
      balance = balance(M, t, w, est), balance_trimmed = balance(M, t, wt, est))
  }
  res
}

lalonde <- read.csv(file.path(here, "shared", "lalonde.csv"), stringsAsFactors = FALSE)
vet <- read.csv(file.path(here, "shared", "veteran.csv"), stringsAsFactors = FALSE)
vet$trt2 <- as.integer(vet$trt == 2)
res <- list(
  lalonde = one_set(lalonde, "treat", c("age", "educ", "race", "married", "nodegree", "re74", "re75")),
  veteran = one_set(vet, "trt2", c("karno", "diagtime", "age", "prior", "celltype")))
writeLines(to_json(res), file.path(here, "weighting.json"))
