# Shared by cox_weighted.R and cox_counting.R: fit one coxph case and record its data, arguments and
# R's results (see tests/test_cox_weighted.py for how a case is replayed in Python).
cox_case <- function(df, x, time = "time", event = "event", start = NULL, weights = NULL, strata = NULL,
                     cluster = NULL, ties = "efron", robust = NULL) {
  lhs <- if (is.null(start)) sprintf("Surv(%s, %s)", time, event) else sprintf("Surv(%s, %s, %s)", start, time, event)
  rhs <- paste(c(x, if (!is.null(strata)) sprintf("strata(%s)", strata)), collapse = " + ")
  args <- list(formula = as.formula(paste(lhs, "~", rhs)), data = df, ties = ties)
  if (!is.null(weights)) args$weights <- as.name(weights)
  if (!is.null(cluster)) args$cluster <- as.name(cluster)
  if (!is.null(robust)) args$robust <- robust
  fit <- do.call("coxph", args)
  s <- summary(fit)
  cols <- unique(c(time, event, start, weights, strata, cluster, x))
  data <- lapply(df[, cols, drop = FALSE], function(v) if (is.factor(v) || is.character(v)) as.integer(factor(v)) else as.numeric(v))
  res <- list(coef = unname(coef(fit)), loglik = fit$loglik, iter = fit$iter, n = fit$n, nevent = fit$nevent,
              lr = 2 * diff(fit$loglik), wald = unname(fit$wald.test), score = unname(fit$score),
              z = unname(s$coefficients[, "z"]), p = unname(s$coefficients[, "Pr(>|z|)"]),
              lcl = unname(s$conf.int[, "lower .95"]), ucl = unname(s$conf.int[, "upper .95"]),
              wald_p = unname(s$waldtest["pvalue"]), lr_p = unname(s$logtest["pvalue"]),
              score_p = unname(s$sctest["pvalue"]))
  if (!is.null(fit$naive.var)) {
    res$se <- unname(sqrt(diag(fit$naive.var)))
    res$robust_se <- unname(sqrt(diag(fit$var)))
    res$rscore <- unname(fit$rscore)
  } else {
    res$se <- unname(sqrt(diag(fit$var)))
  }
  list(x = x, time = time, event = event, start = start, weights = weights, strata = strata, cluster = cluster,
       ties = ties, robust = robust, data = data, r = res)
}
