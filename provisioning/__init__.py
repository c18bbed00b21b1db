"""Device identities: the fleet CA, per-device certificates, enrollment and broker configuration.

Entry points (import the module you need; this package imports nothing on its own):

- ``provisioning.device``: the part an edge agent carries, and the only one it may import
  besides ``bundles``, ``releases``, ``keys`` and ``errors`` (an import contract in setup.cfg):
  ``identity`` (``IdentityPaths``: key.pem, cert.pem, ca.pem of one identity; ``make_csr``),
  ``client`` (``enroll_device``/``renew_certificate``) and ``rotation``
  (``rotate_identity[_async]``, ``recover``, ``confirm_rotation``).
- ``provisioning.ca``: ``FleetCA.init/open``, ``issue_device``, ``issue_service`` (the hub),
  ``issue_server`` (the broker), ``sign_device_csr``, ``revoke``/``revoke_identity``.
- ``provisioning.enrollment``: ``EnrollmentService``, ``add_enrollment_routes`` (hub side).
- ``provisioning.bundles``: ``BundleSigner`` (hub), ``BundleVerifier`` (agent).
- ``provisioning.rotation``: ``certificate_health``, ``fleet_expiry``, revoking superseded
  certificates (hub side).
- ``provisioning.broker_config``: ``write_broker_config``, ``render_acl``, ``render_listener``.
- ``provisioning.crl``, ``provisioning.tokens``, ``provisioning.factory``,
  ``provisioning.mqtt_proof``; ``provisioning.cli`` is ``govedge provision``.

See docs/security.md for the threat model and the operator's procedures.
"""
