"""A/B updates of the device software: signed release bundles installed into a versioned slot
beside the running one, switched with one atomic rename of a symlink, confirmed only once the new
release reports healthy, and rolled back otherwise (see docs/deploy.md, "Updates")."""
