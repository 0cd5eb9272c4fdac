"""The demo music world: song specs, priors, rendering, catalog and listeners."""
