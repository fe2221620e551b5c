# Fixtures for hccstudy.stats.km (case weights) and hccstudy.stats.rmst: R 4.2.2, survival 3.5-3.
# Run: Rscript tests/reference/km_weighted.R  (writes tests/reference/km_weighted.json)
# For each public data set: a logistic propensity score (glm, the formula is stored), IPT weights by
# WeightIt's formulas (ATE 1/e, 1/(1-e); overlap 1-e, e), then per arm
#   survfit(Surv(time, status) ~ 1, weights = w)  -- non-integer weights: survfitKM's default
#   robust = TRUE (infinitesimal jackknife, every unit its own cluster), std.err of S (logse = FALSE)
# at every time (n.risk, n.event, n.censor weighted; surv, std.err, lower, upper for three conf.types),
# and print(fit, rmean = tau)'s *rmean and se(*rmean) at two taus (survival:::survmean).
# Plus one integer-weight case (frequency weights: Greenwood on weighted counts, robust = FALSE) and
# unweighted RMSTs.  The data (time, status, arm, ps) are stored so the tests never need R.
suppressMessages(library(survival))
stopifnot(packageVersion("survival") == "3.5.3")
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

km_w <- function(time, status, w, conf.type) {
  f <- if (is.null(w)) survfit(Surv(time, status) ~ 1, conf.type = conf.type)
       else survfit(Surv(time, status) ~ 1, weights = w, conf.type = conf.type)
  list(time = f$time, n_risk = f$n.risk, n_event = f$n.event, n_censor = f$n.censor, surv = f$surv,
       std_err = f$std.err, logse = f$logse, lower = f$lower, upper = f$upper)
}
rmean <- function(time, status, w, tau) {
  f <- if (is.null(w)) survfit(Surv(time, status) ~ 1) else survfit(Surv(time, status) ~ 1, weights = w)
  m <- survival:::survmean(f, rmean = tau)$matrix
  list(tau = tau, rmst = unname(m["rmean"]), se = unname(m["se(rmean)"]))
}
one_set <- function(d, formula, taus, estimands = c("ATE", "ATO"), int_w = FALSE) {
  ps_fit <- glm(formula, family = binomial, data = d)
  e <- unname(fitted(ps_fit))
  t <- d$arm == 1
  out <- list(ps_formula = paste(deparse(formula), collapse = ""), time = d$time, status = d$status,
              arm = d$arm, ps = e, taus = taus, weighted = list())
  for (est in estimands) {
    w <- switch(est, ATE = ifelse(t, 1 / e, 1 / (1 - e)), ATO = ifelse(t, 1 - e, e))
    arms <- list()
    for (a in c(0, 1)) {
      s <- d$arm == a
      arms[[paste0("arm", a)]] <- list(
        log = km_w(d$time[s], d$status[s], w[s], "log"),
        loglog = km_w(d$time[s], d$status[s], w[s], "log-log")[c("lower", "upper")],
        plain = km_w(d$time[s], d$status[s], w[s], "plain")[c("lower", "upper")],
        rmst = lapply(taus, function(tau) rmean(d$time[s], d$status[s], w[s], tau)))
    }
    out$weighted[[est]] <- c(list(w = unname(w)), arms)
  }
  unw <- list()
  for (a in c(0, 1)) {
    s <- d$arm == a
    unw[[paste0("arm", a)]] <- list(rmst = lapply(taus, function(tau) rmean(d$time[s], d$status[s], NULL, tau)))
  }
  out$unweighted <- unw
  if (int_w) {  # frequency weights 1..3: Greenwood on weighted counts
    set.seed(20261129)
    fw <- sample(1:3, nrow(d), replace = TRUE)
    out$freq <- list(w = fw, km = km_w(d$time, d$status, fw, "log"),
                     rmst = lapply(taus, function(tau) rmean(d$time, d$status, fw, tau)))
  }
  out
}

lung <- read.csv(file.path(here, "shared", "lung.csv"))
lung <- lung[complete.cases(lung[, c("time", "status", "sex", "age", "ph.ecog")]), ]
lung <- data.frame(time = lung$time, status = lung$status - 1, arm = as.integer(lung$sex == 2),
                   age = lung$age, ph.ecog = lung$ph.ecog)
vet <- read.csv(file.path(here, "shared", "veteran.csv"))
vet <- data.frame(time = vet$time, status = vet$status, arm = as.integer(vet$trt == 2), karno = vet$karno,
                  diagtime = vet$diagtime, age = vet$age, prior = vet$prior, celltype = vet$celltype)
col <- survival::colon
col <- col[col$etype == 2 & col$rx %in% c("Obs", "Lev+5FU") & !is.na(col$nodes), ]
col <- data.frame(time = col$time, status = col$status, arm = as.integer(col$rx == "Lev+5FU"),
                  age = col$age, sex = col$sex, obstruct = col$obstruct, nodes = col$nodes)

res <- list(
  lung = one_set(lung, arm ~ age + ph.ecog, c(365, 730), int_w = TRUE),
  veteran = one_set(vet, arm ~ karno + diagtime + age + prior + celltype, c(90, 365)),
  colon = one_set(col, arm ~ age + sex + obstruct + nodes, c(1000, 2500)))
# edge cases: weight-0 units after the last weighted time (n.risk = 0: curve and SE carried forward),
# all remaining weight failing (S = 0: se(S) = 0, log band NA)
edge <- function(time, status, w, tau) {
  c(km_w(time, status, w, "log"), list(plain = km_w(time, status, w, "plain")[c("lower", "upper")],
                                       rmst = rmean(time, status, w, tau)))
}
res$edges <- list(
  to_zero = c(list(input = list(time = c(1, 2, 3, 4, 5), status = c(1, 0, 1, 1, 0), w = c(1.5, 0.5, 2.2, 0, 0))),
              edge(c(1, 2, 3, 4, 5), c(1, 0, 1, 1, 0), c(1.5, 0.5, 2.2, 0, 0), 5)),
  carried = c(list(input = list(time = c(1, 2, 3, 4, 5), status = c(1, 0, 0, 1, 0), w = c(1.5, 0.5, 2.2, 0, 0))),
              edge(c(1, 2, 3, 4, 5), c(1, 0, 0, 1, 0), c(1.5, 0.5, 2.2, 0, 0), 4.5)),
  ties = c(list(input = list(time = c(2, 2, 2, 3, 3, 5, 5, 6), status = c(1, 1, 0, 1, 0, 1, 1, 0),
                             w = c(0.3, 1.7, 2.5, 0.9, 1.1, 0.4, 2.6, 1.3))),
           edge(c(2, 2, 2, 3, 3, 5, 5, 6), c(1, 1, 0, 1, 0, 1, 1, 0), c(0.3, 1.7, 2.5, 0.9, 1.1, 0.4, 2.6, 1.3), 5.5)))
writeLines(to_json(res), file.path(here, "km_weighted.json"))
