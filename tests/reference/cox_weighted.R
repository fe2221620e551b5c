# Fixtures for weighted Cox regression (hccstudy.stats.cox.coxph(weights=, robust=)), R survival.
# Run: Rscript tests/reference/cox_weighted.R  (writes tests/reference/cox_weighted.json)
# Weights are inverse-probability-of-treatment weights from a logistic propensity score fitted here:
# ATE 1/ps (treated) or 1/(1 - ps) (control); ATT 1 (treated) or ps/(1 - ps) (control).
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))
source(file.path(here, "cox_case.R"))

iptw <- function(df, arm, ps_formula) {
  ps <- fitted(glm(ps_formula, data = df, family = binomial))
  df$w_ate <- ifelse(df[[arm]] == 1, 1 / ps, 1 / (1 - ps))
  df$w_att <- ifelse(df[[arm]] == 1, 1, ps / (1 - ps))
  df
}

out <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")), cases = list())
add <- function(name, case) out$cases[[name]] <<- case

# lung: "arm" = female; PS from age, ph.ecog, wt.loss; strata and cluster by institution
lung <- survival::lung
lung <- lung[complete.cases(lung[, c("time", "status", "sex", "age", "ph.ecog", "wt.loss", "inst")]), ]
lung$event <- as.integer(lung$status == 2)
lung$arm <- as.integer(lung$sex == 2)
lung <- iptw(lung, "arm", arm ~ age + ph.ecog + wt.loss)
lung$month <- ceiling(lung$time / 30.4375)     # heavy ties: weighted Efron with many tied events
add("lung_ate_robust_efron", cox_case(lung, "arm", weights = "w_ate", robust = TRUE))
add("lung_ate_robust_breslow", cox_case(lung, "arm", weights = "w_ate", robust = TRUE, ties = "breslow"))
add("lung_ate_default_robust", cox_case(lung, "arm", weights = "w_ate"))          # non-integer weights: robust by default
add("lung_ate_naive", cox_case(lung, "arm", weights = "w_ate", robust = FALSE))
add("lung_att_cluster_inst", cox_case(lung, "arm", weights = "w_att", cluster = "inst"))
add("lung_ate_strata_inst", cox_case(lung, c("arm", "age"), weights = "w_ate", strata = "inst", robust = TRUE))
add("lung_ate_doubly_robust", cox_case(lung, c("arm", "age", "ph.ecog", "wt.loss"), weights = "w_ate", robust = TRUE))
add("lung_month_ties_efron", cox_case(lung, c("arm", "age"), time = "month", weights = "w_ate", robust = TRUE))
add("lung_month_ties_breslow", cox_case(lung, c("arm", "age"), time = "month", weights = "w_ate", robust = TRUE,
                                        ties = "breslow"))
lung$w_int <- rep(1:3, length.out = nrow(lung))   # integer (frequency) weights: R's default is not robust
add("lung_integer_weights", cox_case(lung, c("arm", "age"), weights = "w_int"))
add("lung_unweighted_robust", cox_case(lung, c("arm", "age"), robust = TRUE))

# veteran: arm = trt 2; PS from karno, age, diagtime, prior, celltype; strata by celltype
vet <- survival::veteran
vet$arm <- as.integer(vet$trt == 2)
vet$event <- vet$status
vet <- iptw(vet, "arm", arm ~ karno + age + diagtime + prior + celltype)
add("veteran_ate_robust_efron", cox_case(vet, "arm", weights = "w_ate", robust = TRUE))
add("veteran_ate_robust_breslow", cox_case(vet, "arm", weights = "w_ate", robust = TRUE, ties = "breslow"))
add("veteran_att_robust", cox_case(vet, "arm", weights = "w_att", robust = TRUE))
add("veteran_ate_strata_celltype", cox_case(vet, c("arm", "karno"), weights = "w_ate", strata = "celltype", robust = TRUE))
add("veteran_ate_doubly_robust", cox_case(vet, c("arm", "karno", "age", "diagtime", "prior"), weights = "w_ate",
                                          robust = TRUE))

writeLines(to_json(out), file.path(here, "cox_weighted.json"))
