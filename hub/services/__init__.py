"""Citizen services behind the kiosks: the errand catalog, application progress, verifiable
proofs (电子证照) signed as COSE_Sign1 QR codes, the hash-chained ledger of every proof issued or
revoked, and 好差评 ratings. See docs/services.md."""
