# Minimal JSON writer (no jsonlite in Debian's base R): numbers with 17 significant digits.
to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    nm <- names(x)
    if (!is.null(nm) && all(nm != "")) {
      items <- vapply(seq_along(x), function(i) paste0('"', nm[i], '": ', to_json(x[[i]])), "")
      return(paste0("{", paste(items, collapse = ", "), "}"))
    }
    return(paste0("[", paste(vapply(x, to_json, ""), collapse = ", "), "]"))
  }
  if (length(x) != 1 || !is.null(names(x))) {
    if (!is.null(names(x))) return(to_json(as.list(x)))
    return(paste0("[", paste(vapply(as.list(x), to_json, ""), collapse = ", "), "]"))
  }
  if (is.na(x)) return("null")
  if (is.character(x)) return(paste0('"', gsub('"', '\\\\"', x), '"'))
  if (is.logical(x)) return(if (x) "true" else "false")
  if (is.infinite(x)) return(if (x > 0) "1e999" else "-1e999")
  sprintf("%.17g", x)
}
