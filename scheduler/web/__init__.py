"""The web console: server-rendered pages over the same :class:`~scheduler.service.Service` and tokens as the gRPC API.

No build step and no inline script: Jinja2 templates with autoescaping, SVG charts drawn on the
server (:mod:`scheduler.web.charts`), one small vendored-by-hand script for sortable tables.  A token
logs in once (:mod:`scheduler.web.session`); every form carries a CSRF token (:mod:`scheduler.web.csrf`);
every response carries a strict Content-Security-Policy (:mod:`scheduler.web.security`).  Who may open
which page is the gRPC API's own table (``scheduler.api.auth.RULES``), handed in by the composition root,
so the console has no authorisation rules of its own.
"""
