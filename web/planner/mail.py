"""The admin's e-mail log: every notification with its recipient, state and last error, so a
customer's "I never got an e-mail" can be answered (and a mail server outage seen)."""

from __future__ import annotations

from flask import render_template

from orders.models import Role
from orders.queries.notifications import recent_mail
from web.auth import hunar
from web.planner import bp
from web.planner.access import staff_page


@bp.get("/mail")
@staff_page(Role.ADMIN)
def mail_log() -> str:
    ctx = hunar()
    with ctx.db.sessions() as s:
        rows = recent_mail(s)
    return render_template("planner/mail.html", rows=rows, configured=bool(ctx.settings.smtp_host))
