# Fixtures for Table 1 tests (hccstudy.stats.tests): R's chisq.test (Yates on 2x2), fisher.test,
# Student / Welch t, wilcox.test (exact when R is, else normal approximation with continuity
# correction) and kruskal.test, on the public data in tests/reference/shared.
# Run: Rscript tests/reference/table1_tests.R  (writes tests/reference/table1_tests.json)
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))
sh <- file.path(here, "shared")
cases <- list()
add <- function(name, data, group, var, categorical) {
  d <- data[!is.na(data[[var]]) & !is.na(data[[group]]), ]
  g <- factor(d[[group]])
  x <- d[[var]]
  r <- list(data = name, group = group, variable = var)
  if (categorical) {
    tab <- table(x, g)
    r$chisq_p <- suppressWarnings(chisq.test(tab, correct = TRUE)$p.value)
    r$chisq_nocorrect_p <- suppressWarnings(chisq.test(tab, correct = FALSE)$p.value)
    r$fisher_p <- fisher.test(tab, workspace = 2e7)$p.value
  } else {
    lv <- levels(g)
    a <- x[g == lv[1]]; b <- x[g == lv[2]]
    r$student_p <- t.test(a, b, var.equal = TRUE)$p.value
    r$welch_p <- t.test(a, b)$p.value
    r$wilcox_p <- suppressWarnings(wilcox.test(a, b)$p.value)
    r$wilcox_exact_used <- (length(a) < 50 && length(b) < 50 && !any(duplicated(c(a, b))))
    r$kruskal_p <- kruskal.test(x, g)$p.value
  }
  cases[[length(cases) + 1]] <<- r
}
lal <- read.csv(file.path(sh, "lalonde.csv"))
for (v in c("age", "educ", "re74", "re75")) add("lalonde", lal, "treat", v, FALSE)
for (v in c("race", "married", "nodegree")) add("lalonde", lal, "treat", v, TRUE)
vet <- read.csv(file.path(sh, "veteran.csv"))
for (v in c("karno", "diagtime", "age")) add("veteran", vet, "trt", v, FALSE)
for (v in c("prior", "celltype")) add("veteran", vet, "trt", v, TRUE)
lung <- read.csv(file.path(sh, "lung.csv"))
for (v in c("age", "meal.cal", "wt.loss", "ph.karno")) add("lung", lung, "sex", v, FALSE)
for (v in c("ph.ecog", "inst", "status")) add("lung", lung, "sex", v, TRUE)
# small samples: exact Wilcoxon (no ties, n < 50) and sparse tables (Fisher)
set.seed(1)
small <- data.frame(g = rep(c("a", "b"), c(9, 12)), x = round(rnorm(21), 4),
                    y = c("u", "v", "u", "w", "u", "u", "v", "u", "u", "w", "w", "v", "w", "w", "v", "w", "u", "w", "v", "w", "w"))
write.csv(small, file.path(here, "small.csv"), row.names = FALSE)
add("small", small, "g", "x", FALSE)
add("small", small, "g", "y", TRUE)
writeLines(to_json(list(r_version = R.version.string, cases = cases)), file.path(here, "table1_tests.json"))
