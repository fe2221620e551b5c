# Fixtures for hccstudy.audit: the tests it recomputes from a paper's counts and summary statistics,
# as R 4.2.2 computes them from the data.  Run: Rscript tests/reference/audit_tests.R
# (writes tests/reference/audit_tests.json).
#   categorical: chisq.test(tab) (Yates on 2 x 2, R's default), chisq.test(tab, correct = FALSE),
#                fisher.test(tab)  -- 2 x 2 and r x 2 tables of two-arm comparisons
#   continuous:  t.test(x ~ g, var.equal = TRUE) and t.test(x ~ g) (Welch), with each group's mean,
#                sd and n, which the audit gets instead of the data
# Data: survival::lung, MatchIt::lalonde, mice::nhanes2; plus the reference paper's two AE summary
# comparisons (counts as published; the tests of its "P < 0.001").
suppressMessages({library(survival); library(MatchIt); library(mice)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))

cat_case <- function(name, tab) {
  tab <- unclass(as.matrix(tab))
  yates <- if (all(dim(tab) == 2)) suppressWarnings(chisq.test(tab))$p.value else NA
  list(name = name, table = lapply(seq_len(nrow(tab)), function(i) unname(as.numeric(tab[i, ]))),
       chisq_yates = yates, chisq = suppressWarnings(chisq.test(tab, correct = FALSE))$p.value,
       fisher = fisher.test(tab)$p.value)
}
t_case <- function(name, x, g) {
  keep <- !is.na(x) & !is.na(g)
  x <- x[keep]; g <- droplevels(as.factor(g[keep]))
  lv <- levels(g)
  a <- x[g == lv[1]]; b <- x[g == lv[2]]
  list(name = name, mean = c(mean(a), mean(b)), sd = c(sd(a), sd(b)), n = c(length(a), length(b)),
       student = t.test(x ~ g, var.equal = TRUE)$p.value, welch = t.test(x ~ g)$p.value)
}
data(lalonde, package = "MatchIt")
lung <- survival::lung
nh <- mice::nhanes2
cats <- list(
  cat_case("lung: sex x status", table(lung$status, lung$sex)),
  cat_case("lung: ph.ecog x sex (r x 2)", table(lung$ph.ecog, lung$sex)),
  cat_case("lalonde: married x treat", table(lalonde$married, lalonde$treat)),
  cat_case("lalonde: nodegree x treat", table(lalonde$nodegree, lalonde$treat)),
  cat_case("lalonde: race x treat (r x 2)", table(lalonde$race, lalonde$treat)),
  cat_case("nhanes2: hyp x age (r x 2)", table(nh$age, nh$hyp)),
  cat_case("paper: any AE (144 vs 165 of 182)", matrix(c(144, 38, 165, 17), 2)),
  cat_case("paper: any grade 3-4 AE (111 vs 128 of 182)", matrix(c(111, 71, 128, 54), 2))
)
ts <- list(
  t_case("lung: age by sex", lung$age, lung$sex),
  t_case("lung: meal.cal by sex", lung$meal.cal, lung$sex),
  t_case("lalonde: age by treat", lalonde$age, lalonde$treat),
  t_case("lalonde: re74 by treat", lalonde$re74, lalonde$treat),
  t_case("nhanes2: bmi by hyp", nh$bmi, nh$hyp)
)
writeLines(to_json(list(r = R.version.string, categorical = cats, t = ts)), file.path(here, "audit_tests.json"))
