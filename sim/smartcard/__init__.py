"""The social-security card simulator: a card model that plugs into vpcd, the virtual reader of
pcscd, so the real PC/SC stack sits between the driver and the simulated card."""
