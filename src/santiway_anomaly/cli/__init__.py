"""The `santiway-anomaly` command line: thin shells over the package's functions."""
