"""master.cf services: one thin asyncio module per service, run by the master."""
