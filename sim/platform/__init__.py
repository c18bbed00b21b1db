"""A simulated city 一网通办 platform: the application-status API the hub's platform adapter
calls (``hub.services.applications.PlatformApplications``), served over real HTTP on a loopback
socket. ``server`` holds the platform; ``python -m sim.platform`` runs one with sample
applications for the demo."""
