# Fixtures for hccstudy.stats.meta (metafor rma, fixed effect and DerSimonian-Laird).
# Run: Rscript tests/reference/meta.R  (writes tests/reference/meta.json)
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

fit_both <- function(yi, vi, labels) {
  sei <- sqrt(vi)
  one <- function(method) {
    f <- rma(yi, sei = sei, method = method)
    list(estimate = as.numeric(f$beta), se = f$se, lcl = f$ci.lb, ucl = f$ci.ub, z = f$zval, p = f$pval,
         Q = f$QE, df = f$k - f$p, p_Q = f$QEp, I2 = f$I2, tau2 = f$tau2, weights = unname(weights(f)))
  }
  list(labels = as.character(labels), yi = as.numeric(yi), sei = as.numeric(sei),
       fixed = one("FE"), random = one("DL"))
}

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
hack <- dat.hackshaw1998
# a set whose DL tau^2 is truncated at 0 (Q = 1.31 < df = 3): the first four studies of dat.hackshaw1998
out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  bcg = fit_both(bcg$yi, bcg$vi, paste(bcg$author, bcg$year)),
  hackshaw = fit_both(hack$yi, hack$vi, paste(hack$author, hack$year)),
  hackshaw4 = fit_both(hack$yi[1:4], hack$vi[1:4], paste(hack$author, hack$year)[1:4])
)
writeLines(to_json(out), file.path(here, "meta.json"))
