"""Device identities: the fleet CA, per-device certificates, enrollment and broker configuration.

Entry points (import the module you need; this package imports nothing on its own):

- ``provisioning.ca``: ``FleetCA.init/open``, ``issue_device``, ``issue_service`` (the hub),
  ``issue_server`` (the broker), ``sign_device_csr``, ``revoke``/``revoke_identity``,
  ``IdentityPaths`` (key.pem, cert.pem, ca.pem of one identity), ``make_csr``.
- ``provisioning.enrollment``: ``EnrollmentService``, ``add_enrollment_routes`` (hub side),
  ``enroll_device``/``renew_certificate`` (device side).
- ``provisioning.bundles``: ``BundleSigner`` (hub), ``BundleVerifier`` (agent).
- ``provisioning.rotation``: ``certificate_health``, ``fleet_expiry``, ``rotate_identity[_async]``,
  ``recover``.
- ``provisioning.broker_config``: ``write_broker_config``, ``render_acl``, ``render_listener``.
- ``provisioning.crl``, ``provisioning.tokens``, ``provisioning.factory``,
  ``provisioning.mqtt_proof``; ``provisioning.cli`` is ``govedge provision``.

See docs/security.md for the threat model and the operator's procedures.
"""
