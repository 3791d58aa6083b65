"""I/O edges: spool files, sockets, DNS, wake-up channels. Nothing in the pure core imports these."""
