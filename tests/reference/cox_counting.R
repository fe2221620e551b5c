# Fixtures for counting-process Cox regression (hccstudy.stats.cox.coxph(start=)) and the tmerge split
# (hccstudy.stats.counting.split_at), R survival.
# Run: Rscript tests/reference/cox_counting.R  (writes tests/reference/cox_counting.json)
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "json.R"))
source(file.path(here, "cox_case.R"))

out <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")), cases = list(),
            splits = list())
add <- function(name, case) out$cases[[name]] <<- case

# Stanford heart transplant (jasa.heart in counting-process form): transplant is time-dependent
heart <- survival::heart
heart$transplant <- as.integer(as.character(heart$transplant))
add("heart_efron", cox_case(heart, c("age", "year", "surgery", "transplant"), time = "stop", start = "start"))
add("heart_breslow", cox_case(heart, c("age", "year", "surgery", "transplant"), time = "stop", start = "start",
                              ties = "breslow"))
add("heart_cluster_id", cox_case(heart, c("age", "year", "surgery", "transplant"), time = "stop", start = "start",
                                 cluster = "id"))
# weights per subject (a logistic "PS" of surgery on age and year, ATE form) with cluster = id
ps <- fitted(glm(surgery ~ age + year, data = heart, family = binomial))
heart$w <- ifelse(heart$surgery == 1, 1 / ps, 1 / (1 - ps))
add("heart_weighted_cluster_id", cox_case(heart, c("age", "year", "transplant"), time = "stop", start = "start",
                                          weights = "w", cluster = "id"))
add("heart_weighted_default_robust", cox_case(heart, c("age", "transplant"), time = "stop", start = "start",
                                              weights = "w", ties = "breslow"))

# chronic granulomatous disease: recurrent infections, several rows per subject, cluster = id
cgd <- survival::cgd
cgd$rifn <- as.integer(cgd$treat == "rIFN-g")
cgd$female <- as.integer(cgd$sex == "female")
cgd$autosomal <- as.integer(cgd$inherit == "autosomal")
x <- c("rifn", "female", "age", "autosomal", "steroids", "propylac")
add("cgd_cluster_id", cox_case(cgd, x, time = "tstop", start = "tstart", event = "status", cluster = "id"))
add("cgd_breslow_cluster_id", cox_case(cgd, x, time = "tstop", start = "tstart", event = "status", cluster = "id",
                                       ties = "breslow"))
add("cgd_strata_hoscat", cox_case(cgd, c("rifn", "age", "steroids"), time = "tstop", start = "tstart",
                                  event = "status", strata = "hos.cat", cluster = "id"))
add("cgd_plain", cox_case(cgd, c("rifn", "age"), time = "tstop", start = "tstart", event = "status"))

# late entry (left truncation): lung with an entry time before the end of follow-up
lung <- survival::lung
lung <- lung[complete.cases(lung[, c("time", "status", "age", "sex", "ph.ecog")]), ]
lung$event <- as.integer(lung$status == 2)
lung$entry <- floor(lung$time * (lung$age %% 7) / 10)
add("lung_late_entry", cox_case(lung, c("age", "sex", "ph.ecog"), start = "entry"))
add("lung_late_entry_strata", cox_case(lung, c("age", "ph.ecog"), start = "entry", strata = "sex", ties = "breslow"))

# tmerge with one time-dependent exposure; split_at must give the same rows
split_fixture <- function(name, df, id, time, status, change, x, strata = NULL, ties = "efron") {
  base <- data.frame(id = df[[id]], time = df[[time]], status = df[[status]], change = df[[change]])
  for (v in c(x, strata)) base[[v]] <- df[[v]]
  td <- tmerge(base, base, id = id, death = event(time, status))
  td <- tmerge(td, base, id = id, exposed = tdc(change))
  out$splits[[name]] <<- list(time = base$time, event = base$status, change = base$change,
                              id = td$id, tstart = td$tstart, tstop = td$tstop, death = td$death, exposed = td$exposed,
                              covariates = lapply(base[, x, drop = FALSE], as.numeric))
  add(name, cox_case(td, c("exposed", x), time = "tstop", start = "tstart", event = "death", cluster = "id",
                     strata = strata, ties = ties))
}
vet <- survival::veteran
vet$id <- seq_len(nrow(vet))
vet$change <- ifelse(vet$karno >= 60, floor(vet$time / 2), NA)   # includes changes at 0 (time 1)
vet$change[c(3, 9)] <- -5                                          # exposed before time zero
vet$change[c(4, 12)] <- vet$time[c(4, 12)]                          # at the end of follow-up: never
vet$change[c(20, 21)] <- vet$time[c(20, 21)] + 10                   # after the end of follow-up: never
split_fixture("veteran_tmerge", vet, "id", "time", "status", "change", c("karno", "age"))
split_fixture("veteran_tmerge_breslow", vet, "id", "time", "status", "change", "karno", ties = "breslow")
lung$id <- seq_len(nrow(lung))
lung$change <- ifelse(lung$ph.ecog >= 1, round(lung$time * 0.3), NA)
split_fixture("lung_tmerge_strata", lung, "id", "time", "event", "change", "age", strata = "sex")

writeLines(to_json(out), file.path(here, "cox_counting.json"))
