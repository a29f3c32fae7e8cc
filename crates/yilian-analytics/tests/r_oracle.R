# R oracle for yilian_analytics::surveillance (run by tests/r_oracle.rs).
#
# Runs the CRAN package `surveillance` (earsC, cusum) on fixed series and
# prints, one record per line:
#   VERSION,<surveillance version>
#   SERIES,<name>,<x1>,<x2>,...
#   EARS,<series>,<method>,<alpha>,<day (0-based)>,<upperbound>,<alarm 0/1/NA>
#   CUSUM,<series>,<trans>,<reference>,<k>,<h>,<day (0-based)>,<upperbound>,<alarm>
# Exit status 3 when the package is not installed.
#
# EARS methods: C1, C2, C3 are earsC itself; C3PUB is the published C3
# (sum over t-2..t of max(0, C2 - 1), alarm when > z) computed here in base R
# from the C2 definition, with the upper bound as documented in ears.rs.

ok <- suppressWarnings(suppressMessages(requireNamespace("surveillance", quietly = TRUE)))
if (!ok) {
  cat("NO_SURVEILLANCE\n")
  quit(status = 3)
}
suppressWarnings(suppressMessages(library(surveillance)))
cat(sprintf("VERSION,%s\n", as.character(packageVersion("surveillance"))))

num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
flag <- function(v) ifelse(is.na(v), "NA", ifelse(v, "1", "0"))

t120 <- 1:120
seasonal <- round(12 + 5 * sin(2 * pi * t120 / 30) + ((t120 * 37) %% 7) - 3)
seasonal[100:102] <- seasonal[100:102] + c(12, 18, 9)
sparse <- as.numeric(t120 %% 3 == 0) + 2 * as.numeric((t120 * 5) %% 7 == 1) + as.numeric((t120 * 11) %% 13 == 4)
sparse[90:91] <- sparse[90:91] + c(4, 6)
t90 <- 1:90
trend <- round(5 + t90 / 10 + 3 * cos(2 * pi * t90 / 7) + ((t90 * 17) %% 5))
trend[80:82] <- trend[80:82] + c(10, 3, 14)
series <- list(seasonal = seasonal, sparse = sparse, trend = trend)

for (name in names(series)) {
  x <- series[[name]]
  cat(sprintf("SERIES,%s,%s\n", name, paste(num(x), collapse = ",")))
  s <- sts(observed = x)

  # earsC: R's default alpha per method (NULL -> 0.001 for C1/C2, 0.025 for C3), and alpha = 0.01.
  for (method in c("C1", "C2", "C3")) {
    for (alpha in list(NULL, 0.01)) {
      ctl <- list(method = method)
      if (!is.null(alpha)) ctl$alpha <- alpha
      r <- earsC(s, control = ctl)
      a <- r@control$alpha
      days <- r@control$range - 1
      cat(sprintf("EARS,%s,%s,%s,%d,%s,%s\n", name, method, num(a), days,
                  num(upperbound(r)[, 1]), flag(alarms(r)[, 1])), sep = "")
    }
  }

  # Published C3 from the C2 definition (baseline 7, guard 2).
  for (alpha in c(0.025, 0.01)) {
    z <- qnorm(1 - alpha)
    b <- 7
    c2 <- function(t) {
      ref <- x[(t - b - 2):(t - 3)]
      (x[t] - mean(ref)) / sd(ref)
    }
    for (t in (b + 5):length(x)) {
      ref <- x[(t - b - 2):(t - 3)]
      lag <- max(0, c2(t - 2) - 1) + max(0, c2(t - 1) - 1)
      c3 <- lag + max(0, c2(t) - 1)
      ub <- if (lag > z) 0 else mean(ref) + sd(ref) * (1 + z - lag)
      cat(sprintf("EARS,%s,C3PUB,%s,%d,%s,%s\n", name, num(alpha), t - 1, num(ub), flag(c3 > z)))
    }
  }

  # cusum with the reference mean of the first 28 days (m = NULL), and with a
  # moving reference: the 28 days ending 2 days before each day (numeric m).
  n <- length(x)
  for (trans in c("standard", "rossi")) {
    for (kh in list(c(1.04, 2.26), c(0.5, 4))) {
      r <- cusum(s, control = list(range = 29:n, k = kh[1], h = kh[2], trans = trans))
      cat(sprintf("CUSUM,%s,%s,fixed,%s,%s,%d,%s,%s\n", name, trans, num(kh[1]), num(kh[2]),
                  (29:n) - 1, num(upperbound(r)[, 1]), flag(alarms(r)[, 1])), sep = "")
      rng <- 31:n
      m <- sapply(rng, function(t) mean(x[(t - 30):(t - 3)]))
      r <- cusum(s, control = list(range = rng, m = m, k = kh[1], h = kh[2], trans = trans))
      cat(sprintf("CUSUM,%s,%s,moving,%s,%s,%d,%s,%s\n", name, trans, num(kh[1]), num(kh[2]),
                  rng - 1, num(upperbound(r)[, 1]), flag(alarms(r)[, 1])), sep = "")
    }
  }
}
