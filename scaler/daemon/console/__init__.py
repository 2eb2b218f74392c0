"""The web console served at ``/``: overview, deployment pages, exceptions, sign-in.

Server-rendered HTML (Jinja2, autoescaped), one small script and one style sheet read from the
package; no build step, nothing fetched from elsewhere. See ``docs/console.md``.
"""
