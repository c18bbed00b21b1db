"""The device-side part of provisioning: what an edge agent carries.

Its identity files and CSR (:mod:`.identity`), the enrollment and renewal client
(:mod:`.client`) and certificate rotation (:mod:`.rotation`). Signed bundles and releases are
verified with provisioning.bundles and provisioning.releases. The CA, the enrollment server and
the broker's configuration stay on the hub and the tools; an import contract (setup.cfg) keeps
them out of the agent.
"""
