# Fixtures for hccstudy.stats.km / logrank / cox (R survival, Debian r-cran-survival).
# Run: Rscript tests/reference/survival_fixtures.R  (writes tests/reference/survival_fixtures.json)
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))
sh <- file.path(here, "shared")

km_fixture <- function(time, status, conf.type = "log", times = NULL) {
  f <- survfit(Surv(time, status) ~ 1, conf.type = conf.type)
  tab <- summary(f)$table
  out <- list(time = f$time, n_risk = f$n.risk, n_event = f$n.event, n_censor = f$n.censor,
              surv = f$surv, std_err = f$std.err, lower = f$lower, upper = f$upper,
              median = unname(tab["median"]), lcl = unname(tab["0.95LCL"]), ucl = unname(tab["0.95UCL"]))
  if (!is.null(times)) {
    s <- summary(f, times = times, extend = TRUE)
    out$at <- list(times = s$time, surv = s$surv, lower = s$lower, upper = s$upper, n_risk = s$n.risk)
  }
  out
}
cox_fixture <- function(fit) {
  s <- summary(fit)
  out <- list(coef = unname(coef(fit)), names = names(coef(fit)), se = unname(sqrt(diag(fit$var))),
              loglik = fit$loglik, iter = fit$iter,
              lr = 2 * diff(fit$loglik), wald = unname(fit$wald.test), score = unname(fit$score),
              p = unname(s$coefficients[, ncol(s$coefficients)]))
  if (!is.null(fit$naive.var)) out$robust_se <- unname(sqrt(diag(fit$var)))
  if (!is.null(fit$naive.var)) out$se <- unname(sqrt(diag(fit$naive.var)))
  out
}
zph_fixture <- function(fit) {
  z <- cox.zph(fit)
  list(terms = rownames(z$table), chisq = unname(z$table[, "chisq"]), df = unname(z$table[, "df"]),
       p = unname(z$table[, "p"]))
}
lr_fixture <- function(formula, data, rho = 0) {
  d <- survdiff(formula, data = data, rho = rho)
  list(chisq = d$chisq, obs = unname(d$obs), exp = unname(d$exp), p = pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE))
}

out <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")))
lung <- read.csv(file.path(sh, "lung.csv"))
lung$event <- lung$status == 2
out$lung <- list(
  km_sex1 = km_fixture(lung$time[lung$sex == 1], lung$event[lung$sex == 1], times = c(182.625, 365.25, 730.5, 2000)),
  km_sex2 = km_fixture(lung$time[lung$sex == 2], lung$event[lung$sex == 2], times = c(182.625, 365.25, 730.5)),
  km_sex1_loglog = km_fixture(lung$time[lung$sex == 1], lung$event[lung$sex == 1], conf.type = "log-log"),
  km_sex1_plain = km_fixture(lung$time[lung$sex == 1], lung$event[lung$sex == 1], conf.type = "plain"),
  reverse_km_median = unname(summary(survfit(Surv(time, !event) ~ 1, data = lung))$table["median"]),
  logrank = lr_fixture(Surv(time, event) ~ sex, lung),
  logrank_rho1 = lr_fixture(Surv(time, event) ~ sex, lung, rho = 1),
  logrank_ecog = lr_fixture(Surv(time, event) ~ ph.ecog, lung[!is.na(lung$ph.ecog), ]),
  logrank_strat = lr_fixture(Surv(time, event) ~ sex + strata(ph.ecog), lung[!is.na(lung$ph.ecog), ])
)
cc <- lung[complete.cases(lung[, c("age", "sex", "ph.ecog")]), ]
f1 <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = cc)
out$lung$cox_efron <- cox_fixture(f1)
out$lung$cox_breslow <- cox_fixture(coxph(Surv(time, event) ~ age + sex + ph.ecog, data = cc, ties = "breslow"))
out$lung$cox_robust <- cox_fixture(coxph(Surv(time, event) ~ age + sex + ph.ecog, data = cc, robust = TRUE))
out$lung$cox_cluster_inst <- cox_fixture(coxph(Surv(time, event) ~ age + sex + ph.ecog + cluster(inst),
                                               data = cc[!is.na(cc$inst), ]))
out$lung$cox_strata_inst <- cox_fixture(coxph(Surv(time, event) ~ age + sex + strata(inst), data = cc[!is.na(cc$inst), ]))
out$lung$zph <- zph_fixture(f1)
cc$ecogf <- factor(cc$ph.ecog)
f2 <- coxph(Surv(time, event) ~ age + sex + ecogf, data = cc)
out$lung$cox_factor <- cox_fixture(f2)
out$lung$zph_factor <- zph_fixture(f2)
# interaction: sex x age>=60 (Wald on the interaction coefficient) and sex x ecog factor (LR)
cc$old <- as.numeric(cc$age >= 60)
fi <- coxph(Surv(time, event) ~ sex * old, data = cc)
out$lung$interaction_wald_p <- unname(summary(fi)$coefficients["sex:old", "Pr(>|z|)"])
fa <- coxph(Surv(time, event) ~ sex + ecogf, data = cc)
fb <- coxph(Surv(time, event) ~ sex * ecogf, data = cc)
out$lung$interaction_lr_p <- anova(fa, fb)[2, "Pr(>|Chi|)"]

# heavy ties: times rounded to months, many tied events and censorings
lung$month <- ceiling(lung$time / 30.4375)
out$ties <- list(
  km = km_fixture(lung$month[lung$sex == 1], lung$event[lung$sex == 1], times = c(6, 12, 24)),
  logrank = lr_fixture(Surv(month, event) ~ sex, lung),
  cox_efron = cox_fixture(coxph(Surv(month, event) ~ age + sex, data = lung)),
  cox_breslow = cox_fixture(coxph(Surv(month, event) ~ age + sex, data = lung, ties = "breslow")),
  cox_robust = cox_fixture(coxph(Surv(month, event) ~ age + sex, data = lung, robust = TRUE)),
  zph = zph_fixture(coxph(Surv(month, event) ~ age + sex, data = lung))
)
vet <- read.csv(file.path(sh, "veteran.csv"))
vet$celltype <- factor(vet$celltype)
fv <- coxph(Surv(time, status) ~ trt + karno + celltype, data = vet)
out$veteran <- list(cox = cox_fixture(fv), zph = zph_fixture(fv))
writeLines(to_json(out), file.path(here, "survival_fixtures.json"))
