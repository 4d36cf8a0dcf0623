"""webkit: a small library of the held-out corpus (a web/service framework: API clients,
an app factory with ORM-style event listeners, a router, a log endpoint, responses)."""
