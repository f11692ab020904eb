"""Messages: send, the inbox, and the traffic on a link."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .context import DEFAULT_HOME, HomeOption, JsonOption, open_desk, open_node
from .output import cell, cells, print_json, print_table, say, table, when

# Characters of a message's text that the inbox's table shows.
INBOX_TEXT = 60


def send(
    link: Annotated[str, typer.Argument(help="Link name.")],
    text: Annotated[str, typer.Argument(help="Message text ('-' reads standard input).")],
    lang: Annotated[str, typer.Option(help="Language of the text.")] = "en",
    reply_to: Annotated[str | None, typer.Option(help="Id of the message this answers.")] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Commit a message to the outbox; returns once it is durable."""
    node = open_node(home)
    if text == "-":
        text = sys.stdin.read()
    message = node.send(link, {"text": text, "lang": lang}, ref=reply_to)
    say("queued {id} (seq {seq}) on {link}", id=message.id, seq=message.seq, link=link)


def inbox(
    link: Annotated[str | None, typer.Argument(help="Only this link.")] = None,
    limit: int = 20,
    as_json: JsonOption = False,
    lang: str = typer.Option("en", "--lang", help="The reader's language for agreed texts."),
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Messages in and out, with their receipt ladder; agreed texts in the reader's
    language, marked \\[agreed text]; translations with their provenance."""
    from ..node.language.agreed_messages import agreed_views
    from ..node.language.translations import Translations
    from ..web.views import message_views
    from .language import inbox_text
    from .translations import lines as translation_lines

    node = open_node(home)
    messages = node.messages(link, limit=limit)
    views = message_views(messages, agreed_views(node, messages))
    rendered = Translations(node).of_messages([v["id"] for v in views])
    for v in views:
        v["translations"] = [t.as_json() for t in rendered.get(v["id"], [])]
    if as_json:
        print_json(views)
        return
    rows = table("id", "dir", "from", "status", "text", "sent", "delivered", "ack", "answered")
    for v in views:
        ladder = v["ladder"]
        text = inbox_text(v, lang)
        translated = translation_lines(rendered.get(v["id"], []), INBOX_TEXT)
        rows.add_row(
            *cells(v["id"][-8:], "→" if v["direction"] == "out" else "←", v["sender"], v["status"]),
            # The first characters, cut before making them inert: a control character
            # near the cut is shown whole.
            cell(
                text[:INBOX_TEXT]
                + ("…" if len(text) > INBOX_TEXT else "")
                + (f"\n{translated}" if translated else ""),
                multiline=True,
            ),
            *cells(
                when(v["created_ms"]),
                when(ladder.get("delivered")),
                when(ladder.get("acknowledged")),
                when(ladder.get("answered")),
            ),
        )
    print_table(rows)


def stats(
    link: Annotated[str, typer.Argument(help="Link name.")],
    bucket: Annotated[str, typer.Option(help="hour or day (UTC).")] = "day",
    as_json: JsonOption = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Emergency, routine and test traffic on the link per hour or day."""
    view = open_desk(home).usage(link, bucket=bucket).view()
    if as_json:
        print_json(view)
        return
    rows = table(bucket, "emergency out/in", "routine out/in", "tests out/in")
    for row in [*view["buckets"], {"start_ms": None, **view["totals"]}]:
        start = "total" if row["start_ms"] is None else when(row["start_ms"])[:16]
        rows.add_row(
            *cells(
                start,
                *(f"{row[c]['out']}/{row[c]['in']}" for c in ("emergency", "routine", "test")),
            )
        )
    print_table(rows)
    for channel, r in view["responses"].items():
        parts = [f"{channel}: {r['sent']} sent"]
        for rung in ("acknowledged", "answered"):
            if r[rung]["count"]:
                parts.append(
                    f"{r[rung]['count']} {rung} (median {r[rung]['median_s']} s, "
                    f"90% within {r[rung]['p90_s']} s)"
                )
        say("{line}", line=", ".join(parts))
