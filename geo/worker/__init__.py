"""The worker: jobs on a PostgreSQL task queue (procrastinate), on events and on the hotline's
rhythm, so that nothing waits for a person to type a command."""
