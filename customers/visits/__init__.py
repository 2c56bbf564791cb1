"""Visits (走访): services, reads and forms."""
