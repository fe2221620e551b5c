# Fixture for hccstudy.analysis.sensitivity: the sensitivity analyses of the arm HR assembled from
# R's own functions (survival 3.5, metafor), on survival's veteran and lung with two made-up columns
# each (a "site" and an exposure start "expo", computed from the row number so that Python builds the
# same ones: see tests/test_sensitivity.py).  The PS-matched HRs are not here: matching is checked
# against MatchIt elsewhere (tests/test_stats_reference.py); here the matched HR is compared with the
# main analysis's own matched HR.
# Run: Rscript tests/reference/sensitivity.R  (writes tests/reference/sensitivity.json)
suppressMessages({library(survival); library(metafor)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))
sh <- file.path(here, "shared")

hr_of <- function(fit, k = 1) {
  s <- summary(fit)$conf.int
  p <- summary(fit)$coefficients
  list(hr = unname(s[k, "exp(coef)"]), lcl = unname(s[k, "lower .95"]), ucl = unname(s[k, "upper .95"]),
       p = unname(p[k, ncol(p)]))
}

# d: complete cases with columns time, ev (0/1), a (1 = the arm whose HR is reported), t (1 = MatchIt's
# treated), site, expo; ps: formula of the propensity score; adjust: the PS covariates
# the weighted Kaplan-Meier per arm (t = 1: MatchIt's treated, t = 0): survfit with the weights (robust IJ
# variance as survfitKM decides over all the weights of the call), the median with its CI and the survival
# with its CI at the endpoint's landmarks
weighted_km <- function(dw, times) {
  f <- survfit(Surv(time, ev) ~ t, data = dw, weights = w)
  tab <- summary(f)$table
  s <- summary(f, times = times, extend = TRUE)
  arm <- function(k) {
    row <- paste0("t=", k)
    i <- s$strata == row
    list(median = unname(tab[row, "median"]), lcl = unname(tab[row, "0.95LCL"]), ucl = unname(tab[row, "0.95UCL"]),
         time = as.list(s$time[i]), surv = as.list(s$surv[i]), lower = as.list(s$lower[i]), upper = as.list(s$upper[i]))
  }
  list(treated = arm(1), control = arm(0))
}

sensitivity <- function(d, ps_formula, adjust, estimands, stabilize, trim, landmark, km_times) {
  out <- list()
  ps <- fitted(glm(ps_formula, family = binomial, data = d))
  out$unadjusted <- hr_of(coxph(Surv(time, ev) ~ a, data = d))
  out$multivariable <- hr_of(coxph(as.formula(paste("Surv(time, ev) ~ a +", paste(adjust, collapse = " + "))), data = d))
  weights_of <- function(estimand) {
    t <- d$t == 1
    w <- switch(estimand, ATE = ifelse(t, 1 / ps, 1 / (1 - ps)), ATT = ifelse(t, 1, ps / (1 - ps)),
                ATO = ifelse(t, 1 - ps, ps))
    if (!is.null(trim)) {
      q <- quantile(ps, trim)          # type 7
      w[ps < q[1] | ps > q[2]] <- 0
    }
    if (stabilize) {
      keep <- w > 0
      p1 <- sum(t & keep) / sum(keep)
      w <- w * ifelse(t, p1, 1 - p1)
    }
    w
  }
  method <- c(ATE = "iptw_ate", ATT = "iptw_att", ATO = "overlap")
  for (e in estimands) {
    w <- weights_of(e)
    dw <- d[w > 0, ]
    dw$w <- w[w > 0]
    out[[method[[e]]]] <- c(hr_of(coxph(Surv(time, ev) ~ a, data = dw, weights = w, robust = TRUE)),
                            list(n = nrow(dw)))
    out$weighted_km[[e]] <- weighted_km(dw, km_times)
  }
  w <- weights_of("ATE")
  dw <- d[w > 0, ]
  dw$w <- w[w > 0]
  out$doubly_robust <- hr_of(coxph(as.formula(paste("Surv(time, ev) ~ a +", paste(adjust, collapse = " + "))),
                                   data = dw, weights = w, robust = TRUE))
  lm <- d[d$time > landmark & d$expo <= landmark, ]
  out$landmark <- c(hr_of(coxph(Surv(time - landmark, ev) ~ a, data = lm)), list(n = nrow(lm), time = landmark))
  # time-dependent: pre-exposure until expo, then the arm (tmerge's tdc)
  td <- tmerge(d[, c("id", "a")], d, id = id, ev = event(time, ev), ex = tdc(expo))
  td$exA <- td$ex * td$a
  td$exB <- td$ex * (1 - td$a)
  f <- coxph(Surv(tstart, tstop, ev) ~ exA + exB, data = td, cluster = id)
  b <- coef(f)
  V <- vcov(f)
  diff <- unname(b[1] - b[2])
  se <- sqrt(V[1, 1] + V[2, 2] - 2 * V[1, 2])
  out$time_dependent <- list(hr = exp(diff), lcl = exp(diff - qnorm(0.975) * se), ucl = exp(diff + qnorm(0.975) * se),
                             p = 2 * pnorm(-abs(diff / se)), intervals = nrow(td))
  out$centre_stratified <- hr_of(coxph(Surv(time, ev) ~ a + strata(site), data = d))
  sites <- sort(unique(d$site))
  per <- lapply(sites, function(s) {
    f <- coxph(Surv(time, ev) ~ a, data = d[d$site == s, ])
    list(centre = s, log_hr = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))))
  })
  yi <- vapply(per, function(r) r$log_hr, 0)
  sei <- vapply(per, function(r) r$se, 0)
  fe <- rma(yi = yi, sei = sei, method = "FE")
  dl <- rma(yi = yi, sei = sei, method = "DL")
  m0 <- coxph(Surv(time, ev) ~ a + site, data = d)
  m1 <- coxph(Surv(time, ev) ~ a * site, data = d)
  lr <- anova(m0, m1)
  out$centres <- list(per_centre = per, fixed = list(log_hr = fe$beta[1], se = fe$se),
                      random = list(log_hr = dl$beta[1], se = dl$se), q = fe$QE, i2 = dl$I2, tau2 = dl$tau2,
                      interaction = list(chisq = lr$Chisq[2], df = lr$Df[2], p = lr[2, "Pr(>|Chi|)"]))
  km <- survfit(Surv(time, ev) ~ a, data = d)
  tau <- min(tapply(d$time, d$a, max))
  tab <- summary(km, rmean = tau)$table
  out$rmst <- list(tau = tau, rmst_a1 = unname(tab[2, "rmean"]), rmst_a0 = unname(tab[1, "rmean"]),
                   se_a1 = unname(tab[2, "se(rmean)"]), se_a0 = unname(tab[1, "se(rmean)"]))
  out
}

vet <- read.csv(file.path(sh, "veteran.csv"))
vet$id <- vet$rowid
vet$ev <- vet$status
vet$t <- as.integer(vet$trt == 2)
vet$a <- vet$t                                      # arm_reference: control -> HR of Test vs Standard
vet$site <- c("a", "b", "c")[vet$rowid %% 3 + 1]
vet$expo <- ifelse(vet$trt == 2, (vet$rowid %% 7) * 15 + 1, (vet$rowid %% 3) * 2 + 0.5)
vet$celltype <- factor(vet$celltype)
veteran <- sensitivity(vet, t ~ karno + diagtime + age + prior + celltype, c("karno", "diagtime", "age", "prior", "celltype"),
                       "ATE", TRUE, NULL, 30, c(90, 180, 1200))

# no event before the exposure starts (as in the built-in study): the pre-exposure state drops out and the
# arms are compared from their exposure start (late entry)
vet2 <- vet
vet2$expo <- pmin(vet2$expo, vet2$time / 2)
td2 <- tmerge(vet2[, c("id", "a")], vet2, id = id, ev = event(time, ev), ex = tdc(expo))
stopifnot(sum(td2$ev[td2$ex == 0]) == 0)
late_entry <- list(time_dependent = hr_of(coxph(Surv(tstart, tstop, ev) ~ a, data = td2[td2$ex == 1, ], cluster = id)))

lung <- read.csv(file.path(sh, "lung.csv"))
lung$id <- seq_len(nrow(lung))
lung <- lung[complete.cases(lung[, c("time", "status", "sex", "age", "ph.ecog", "ph.karno", "wt.loss")]), ]
lung$ev <- as.integer(lung$status == 2)
lung$t <- as.integer(lung$sex == 2)
lung$a <- 1 - lung$t                                # arm_reference: treated -> HR of M vs F
lung$site <- c("p", "q", "r", "s")[lung$id %% 4 + 1]
lung$expo <- ifelse(lung$sex == 2, (lung$id %% 5) * 20 + 5, (lung$id %% 4) * 3 + 1)
lungres <- sensitivity(lung, t ~ age + ph.ecog + ph.karno + wt.loss, c("age", "ph.ecog", "ph.karno", "wt.loss"),
                       c("ATE", "ATT", "ATO"), FALSE, c(0.05, 0.95), 60, c(180, 365, 730))

writeLines(to_json(list(veteran = veteran, lung = lungres, veteran_late_entry = late_entry,
                        r = paste(R.version$major, R.version$minor, sep = "."),
                        survival = as.character(packageVersion("survival")),
                        metafor = as.character(packageVersion("metafor")))),
           file.path(here, "sensitivity.json"))
