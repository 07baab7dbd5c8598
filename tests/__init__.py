"""The test suite (a regular package, so that `tests.*` is ours and not the `tests` folder some wheels install)."""
