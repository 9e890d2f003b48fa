"""One module per chapter experiment: ``run(config, seed) -> payload`` for ``results.load_or_compute``."""
