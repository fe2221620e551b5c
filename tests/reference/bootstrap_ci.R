# Fixtures for hccstudy.stats.bootstrap_ci (boot::boot.ci, types "perc" and "bca").
# Run: Rscript tests/reference/bootstrap_ci.R  (writes tests/reference/bootstrap_ci.json)
# The resampling indices (boot.array(b, indices = TRUE)) are exported so that Python recomputes the same
# replicates with its own statistic (and, for BCa's default, the same regression influence values).
suppressMessages({library(boot); library(survival)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

intervals <- function(ci) list(perc = unname(ci$percent[1, 4:5]), bca = unname(ci$bca[1, 4:5]))

case <- function(data, stat, R, seed, conf = 0.95, jack = FALSE) {
  set.seed(seed)
  b <- boot(data, stat, R = R)
  out <- list(t0 = unname(b$t0[1]), t = as.numeric(b$t[, 1]), indices = unname(lapply(seq_len(R), function(r)
    as.integer(boot.array(b, indices = TRUE)[r, ]))), conf = conf,
    default = intervals(boot.ci(b, conf = conf, type = c("perc", "bca"))),
    L_reg = as.numeric(empinf(b, type = "reg")),
    bias = unname(mean(b$t[, 1]) - b$t0[1]), se = sd(b$t[, 1]))
  if (jack) {
    L <- empinf(b, type = "jack")
    out$L_jack <- as.numeric(L)
    out$jackknife <- vapply(seq_len(NROW(data)), function(i) stat(data, seq_len(NROW(data))[-i])[1], 0)
    out$with_jack <- intervals(boot.ci(b, conf = conf, type = c("perc", "bca"), L = L))
  }
  out
}

ratio <- function(d, i) sum(d$x[i]) / sum(d$u[i])
lung2 <- data.frame(time = lung$time, status = lung$status - 1, sex = lung$sex)
log_hr <- function(d, i) coef(coxph(Surv(time, status) ~ sex, data = d[i, ]))[1]
out <- list(
  boot_version = as.character(packageVersion("boot")),
  city = c(list(x = city$x, u = city$u), case(city, ratio, 999, 1, jack = TRUE)),
  city90 = c(list(x = city$x, u = city$u), case(city, ratio, 499, 2, conf = 0.9)),
  lung = c(list(data = as.list(lung2)), case(lung2, log_hr, 249, 3, jack = TRUE))
)
writeLines(to_json(out), file.path(here, "bootstrap_ci.json"))
