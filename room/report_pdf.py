"""The crisis report as a PDF (fpdf2, pure Python): the header, response times, the
timeline, what was held and what went out. Text is Unicode with DejaVu Sans where the
system has it (Debian's fonts-dejavu-core); else the PDF core font, which shows characters
outside Latin-1 as "?"."""

from pathlib import Path

from fpdf import FPDF

UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TEXT_LIMIT = 600


def _pdf() -> tuple[FPDF, str]:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if UNICODE_FONT.exists():
        pdf.add_font("DejaVu", fname=str(UNICODE_FONT))
        return pdf, "DejaVu"
    return pdf, "Helvetica"


def render(report: dict) -> bytes:
    pdf, font = _pdf()

    def text(value) -> str:
        value = str(value if value is not None else "")[:TEXT_LIMIT]
        return value if font == "DejaVu" else value.encode("latin-1", "replace").decode("latin-1")

    def line(value, size: int = 10) -> None:
        pdf.set_font(font, size=size)
        pdf.multi_cell(0, size * 0.5, text(value), new_x="LMARGIN", new_y="NEXT")

    line(f"Crisis report: {report.get('name', '')}", 16)
    line(f"{report.get('reason', '')}")
    line(f"Declared {report.get('opened_at', '')} by {report.get('opened_by', '')}; "
         f"stood down {report.get('closed_at', '')} by {report.get('closed_by', '')}")
    if report.get("terms"):
        line(f"Terms: {report['terms']}")
    responses = report.get("responses", {})
    line("Response times", 13)
    line(f"Cases opened: {responses.get('cases')}, answered: {responses.get('answered')}, "
         f"median first response: {responses.get('median_minutes')} min, 90th percentile: {responses.get('p90_minutes')} min")
    line("Timeline", 13)
    for entry in report.get("timeline", []):
        line(f"{entry['at'][11:19]}  {entry['summary']}" + (f" ({entry['actor']})" if entry.get("actor") else ""), 9)
    line("What was held", 13)
    for post in report.get("held", []) or [{"account": "", "text": "Nothing.", "released": None}]:
        status = {True: "released", False: "held"}.get(post["released"], "")
        line(f"{post['account']} {status}: {post['text']}", 9)
    line("What went out", 13)
    for post in report.get("went_out", []) or [{"account": "", "text": "Nothing.", "at": "", "holding": False}]:
        line(f"{post['at'][11:19]} {post['account']}{' (holding statement)' if post['holding'] else ''}: {post['text']}", 9)
    return bytes(pdf.output())


def render_results(results) -> bytes:
    """The results of an event or a drill (room/results.py) as a PDF legal and the brand
    lead can forward: what fired, how fast, what it earned, the best and the worst."""
    pdf, font = _pdf()

    def text(value) -> str:
        value = str(value if value is not None else "")[:TEXT_LIMIT]
        return value if font == "DejaVu" else value.encode("latin-1", "replace").decode("latin-1")

    def line(value, size: int = 10) -> None:
        pdf.set_font(font, size=size)
        pdf.multi_cell(0, size * 0.5, text(value), new_x="LMARGIN", new_y="NEXT")

    what = f"drill of {results.drill.started_at:%Y-%m-%d %H:%M} UTC" if results.drill else "event"
    line(f"Results: {results.event.name} ({what})", 16)
    line(f"{len(results.rows)} variant(s) fired.")
    for title, row in (("Best", results.best), ("Worst", results.worst)):
        if row is not None:
            line(f"{title}: {row.scenario} {row.account}, {row.engagement} interactions: {row.text}")
    line("Every variant fired", 13)
    for row in results.rows or []:
        fast = f"{row.trigger_to_published:g} s trigger to published" if row.trigger_to_published is not None else "not published"
        line(f"{row.fired_at:%H:%M:%S} UTC  {row.scenario} ({row.label or 'variant'}) {row.account}, {fast}", 10)
        line(f"    {row.likes} likes, {row.reposts} reposts, {row.replies} replies, {row.quotes} quotes"
             + (f", {row.impressions} impressions" if row.impressions is not None else "")
             + f", {row.clicks} link clicks", 9)
        line(f"    {row.text}", 9)
    if not results.rows:
        line("Nothing fired.")
    return bytes(pdf.output())
