"""Operations: how the night shift is doing (run records, queues, outbox, connections),
the watchdog that tells people when it stops, and the figures for Prometheus."""
