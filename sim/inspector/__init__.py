"""The simulated inspector terminal: GNSS on a pty, a camera on MJPEG, a real agent on them."""
