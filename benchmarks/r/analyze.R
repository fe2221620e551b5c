# The issue-13 `hccstudy analyze` workload in R, for timing side by side (benchmarks/bench_commands.py).
#
#   Rscript benchmarks/r/analyze.R TABLE.csv        # TABLE.csv: benchmarks/analyze_table.py's table as CSV
#
# The same work as benchmarks/analyze_table.py's config: logistic PS on 6 covariates (glm), 1:1 nearest
# neighbour matching without replacement with a 0.2 SD caliper (MatchIt), Kaplan-Meier by arm (survfit),
# log-rank (survdiff) on the whole and matched samples and stratified by matched pair, and univariable then
# multivariable Cox (coxph) on 9 variables in the whole and matched samples plus the robust (cluster by
# pair) HR of the matched sample.  Table 1, balance and the report are not timed here (hccstudy's
# analyze times include them).  Prints one JSON line: seconds per step and the package versions.
#
# For timing only: Debian's r-cran-matchit 4.5.1 has a known bug in its pair assignment, so its pairs are
# not a reference (the R-parity fixtures in tests/reference/ come from MatchIt >= 4.5.4).

suppressPackageStartupMessages({
  library(survival)
  library(MatchIt)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript analyze.R TABLE.csv")

times <- list()
tick <- function(name, expr) {
  t0 <- proc.time()[["elapsed"]]
  value <- force(expr)
  times[[name]] <<- proc.time()[["elapsed"]] - t0
  invisible(value)
}

d <- tick("read", if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(args[[1]], showProgress = FALSE))
} else {
  read.csv(args[[1]])
})
d$treated <- as.integer(d$arm == "SE")
d$sex <- factor(d$sex, levels = c("Female", "Male"))
d$arm <- factor(d$arm, levels = c("SE", "SI"))  # reference: SE (arm_reference: treated)

ps_formula <- treated ~ age + sex + max_diameter_cm + multiple_tumours + mvi + ehs
tick("glm_ps", glm(ps_formula, data = d, family = binomial()))
m <- tick("matchit", matchit(ps_formula, data = d, method = "nearest", distance = "glm", caliper = 0.2,
                             ratio = 1, replace = FALSE))
md <- tick("match_data", match.data(m))

s <- Surv(d$os_months, d$os_event)
sm <- Surv(md$os_months, md$os_event)
tick("survfit", {
  survfit(s ~ arm, data = d)
  summary(survfit(sm ~ arm, data = md), times = c(6, 12, 24))
})
tick("survdiff", {
  survdiff(s ~ arm, data = d)
  survdiff(sm ~ arm, data = md)
})
tick("survdiff_by_pair", survdiff(sm ~ arm + strata(subclass), data = md))

vars <- c("arm", "age", "sex", "ecog", "max_diameter_cm", "multiple_tumours", "mvi", "ehs", "afp_gt_400")
cox_all <- function(data) {
  uni <- lapply(vars, function(v) coxph(as.formula(paste("Surv(os_months, os_event) ~", v)), data = data))
  p <- vapply(uni, function(f) summary(f)$coefficients[1, "Pr(>|z|)"], numeric(1))
  keep <- unique(c("arm", vars[p < 0.05]))
  coxph(as.formula(paste("Surv(os_months, os_event) ~", paste(keep, collapse = " + "))), data = data)
}
tick("coxph", {
  cox_all(d)
  cox_all(md)
  coxph(Surv(os_months, os_event) ~ arm, data = md, cluster = subclass)
})

total <- sum(unlist(times))
fields <- c(sprintf('"n": %d', nrow(d)), sprintf('"n_pairs": %d', nlevels(factor(md$subclass))),
            sprintf('"%s_s": %.3f', names(times), unlist(times)), sprintf('"total_s": %.3f', total),
            sprintf('"R": "%s"', paste(R.version$major, R.version$minor, sep = ".")),
            sprintf('"MatchIt": "%s"', as.character(packageVersion("MatchIt"))),
            sprintf('"survival": "%s"', as.character(packageVersion("survival"))),
            '"note": "timing only: Debian r-cran-matchit 4.5.1 has a known pair bug"')
cat("{", paste(fields, collapse = ", "), "}\n", sep = "")
