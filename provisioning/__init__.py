"""Device identities: the fleet CA, per-device certificates, enrollment and broker configuration."""
