"""The contact log (联系记录): services, reads and forms."""
