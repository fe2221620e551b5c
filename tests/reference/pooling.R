# Fixtures for hccstudy.stats.pooling (Rubin's rules as mice::pool + summary(pool(.), conf.int = TRUE)).
# Run: Rscript tests/reference/pooling.R  (writes tests/reference/pooling.json)
# The imputations are made here with mice and exported: the Python test refits OUR coxph on the same
# completed data sets and pools, so the comparison covers the Cox fits and Rubin's rules (not mice's draws).
suppressMessages({library(mice); library(survival)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

pooled_summary <- function(fits) {
  p <- pool(fits)
  s <- summary(p, type = "all", conf.int = TRUE)
  list(term = as.character(s$term), estimate = s$estimate, std.error = s$std.error, statistic = s$statistic,
       df = s$df, p.value = s$p.value, lcl = s[["2.5 %"]], ucl = s[["97.5 %"]], riv = s$riv,
       lambda = s$lambda, fmi = s$fmi, ubar = s$ubar, b = s$b, t = s$t, dfcom = s$dfcom[1],
       exponentiated = exp_summary(p))
}

exp_summary <- function(p) {
  s <- summary(p, conf.int = TRUE, exponentiate = TRUE)
  list(estimate = s$estimate, std.error = s$std.error, lcl = s[["2.5 %"]], ucl = s[["97.5 %"]])
}

cox_case <- function(data, formula, cols, m, seed) {
  imp <- mice(data[, cols], m = m, seed = seed, printFlag = FALSE)
  fits <- with(imp, coxph(as.formula(formula)))
  sets <- lapply(seq_len(m), function(i) as.list(complete(imp, i)))
  # per-imputation numbers, so that a failure can be located (fit vs pooling)
  est <- lapply(fits$analyses, function(f) unname(coef(f)))
  vcv <- lapply(fits$analyses, function(f) unname(as.list(as.data.frame(vcov(f)))))
  list(formula = formula, covariates = setdiff(cols, c("time", "status")), m = m, sets = sets,
       estimates = est, vcov = vcv, nevent = fits$analyses[[1]]$nevent, pooled = pooled_summary(fits))
}

lung2 <- lung[, c("time", "status", "age", "sex", "ph.karno", "wt.loss", "meal.cal")]
lung2$status <- lung2$status - 1
pbc2 <- pbc[1:312, c("time", "status", "age", "bili", "albumin", "chol", "copper", "platelet")]
pbc2$status <- as.numeric(pbc2$status == 2)

# lm on nhanes (mice): given estimates and variances only (pure Rubin, dfcom = df.residual = n - p)
imp_nh <- mice(nhanes, m = 7, seed = 2024, printFlag = FALSE)
fit_nh <- with(imp_nh, lm(chl ~ age + bmi))
nh <- list(estimates = lapply(fit_nh$analyses, function(f) unname(coef(f))),
           variances = lapply(fit_nh$analyses, function(f) unname(diag(vcov(f)))),
           df_residual = fit_nh$analyses[[1]]$df.residual, pooled = pooled_summary(fit_nh))

out <- list(
  mice_version = as.character(packageVersion("mice")),
  lung = cox_case(lung2, "Surv(time, status) ~ age + sex + ph.karno + wt.loss + meal.cal",
                  c("time", "status", "age", "sex", "ph.karno", "wt.loss", "meal.cal"), 5, 14),
  pbc = cox_case(pbc2, "Surv(time, status) ~ age + log(bili) + albumin + chol + copper + platelet",
                 c("time", "status", "age", "bili", "albumin", "chol", "copper", "platelet"), 6, 7),
  nhanes_lm = nh
)
writeLines(to_json(out), file.path(here, "pooling.json"))
