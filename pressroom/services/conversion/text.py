"""Text family writers: plain text, Markdown and one self-contained HTML page."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from pressroom.services.conversion.document import Block, Document, Page, Picture, Table
from pressroom.services.conversion.options import HtmlOptions, MarkdownOptions, TxtOptions

BULLET = "\u2022"
#: characters a list item's text may start with when it carries its own bullet
MARKERS = "\u2022*-\u2013\u25aa"


def _list_prefix(block: Block, number: int) -> str:
    if block.list_kind == "number" or block.text[:1] in MARKERS:
        return ""  # the text carries its own marker
    return f"{BULLET} "


def write_txt(doc: Document, options: TxtOptions, dest: Path) -> None:
    """Reading order; with ``preserveLayout`` the page as pdfplumber lays it
    out with spaces, so columns stay side by side."""
    pages = []
    for page in doc.pages:
        if options.preserveLayout:
            text = "\n".join(line.rstrip() for line in (page.layout_text or "").splitlines())
            pages.append(text.strip("\n"))
            continue
        parts = []
        for item in page.items:
            if isinstance(item, Block):
                prefix = _list_prefix(item, 0) if item.kind == "list_item" else ""
                parts.append(prefix + item.text)
            elif isinstance(item, Table):
                parts.append("\n".join("\t".join(row) for row in item.rows))
        pages.append("\n\n".join(parts))
    separator = "\n\f" if options.pageBreaks else "\n\n"
    dest.write_text(separator.join(pages) + "\n", encoding="utf-8")


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _md_escape(text: str) -> str:
    """Escape what would turn a paragraph into other Markdown."""
    if text[:1] in "#>+-*" or (text[:1].isdigit() and text.split(" ", 1)[0].rstrip(".)").isdigit()):
        text = "\\" + text
    return text.replace("<", "&lt;")


def _md_table(table: Table) -> str:
    width = max(len(row) for row in table.rows)
    rows = [row + [""] * (width - len(row)) for row in table.rows]
    lines = ["| " + " | ".join(_md_cell(c) for c in rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _md_page(page: Page, options: MarkdownOptions) -> str:
    """A page's items; consecutive list items make one list."""
    parts: list[str] = []
    counter = 0
    for item in page.items:
        if isinstance(item, Block) and item.kind == "list_item":
            text = item.text
            if item.list_kind == "number":
                counter += 1
                marker, _, rest = text.partition(" ")
                line = f"{counter}. {rest.strip() if rest else marker}"
            else:
                line = "- " + _md_escape(text[1:].strip() if text[:1] in MARKERS else text)
            if counter > 1 or (parts and parts[-1].startswith("- ") and item.list_kind != "number"):
                parts[-1] += "\n" + line
            else:
                parts.append(line)
            continue
        counter = 0
        if isinstance(item, Block):
            if item.kind == "heading":
                parts.append("#" * item.level + " " + item.text.replace("#", "\\#"))
            else:
                parts.append(_md_escape(item.text))
        elif isinstance(item, Table) and options.includeTables:
            parts.append(_md_table(item))
    return "\n\n".join(parts)


def write_markdown(doc: Document, options: MarkdownOptions, dest: Path) -> None:
    pages = [_md_page(page, options) for page in doc.pages]
    separator = "\n\n---\n\n" if options.pageBreaks else "\n\n"
    dest.write_text(separator.join(pages).strip() + "\n", encoding="utf-8")


CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 50em; margin: 2em auto;
       padding: 0 1em; line-height: 1.5; color: #222; }
section.page { border-bottom: 1px dashed #bbb; padding-bottom: 1.5em; margin-bottom: 1.5em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #999; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; height: auto; }
""".strip()


def write_html(doc: Document, options: HtmlOptions, dest: Path) -> None:
    """One page, every text escaped, no external reference (pictures are
    data: URIs), so it can be opened or mailed as it is."""
    esc = html.escape
    title = options.title or doc.title or "Document"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
    ]
    if options.include_css:
        out.append(f"<style>\n{CSS}\n</style>")
    out += ["</head>", "<body>"]
    for page in doc.pages:
        out.append(f'<section class="page" id="page-{page.number}">')
        open_list: str | None = None
        for item in page.items:
            kind = None
            if isinstance(item, Block) and item.kind == "list_item":
                kind = "ol" if item.list_kind == "number" else "ul"
            if open_list and kind != open_list:
                out.append(f"</{open_list}>")
                open_list = None
            if kind:
                if open_list is None:
                    out.append(f"<{kind}>")
                    open_list = kind
                assert isinstance(item, Block)
                text = item.text
                if kind == "ul" and text[:1] in MARKERS:
                    text = text[1:].strip()
                elif kind == "ol":
                    text = text.partition(" ")[2] or text
                out.append(f"<li>{esc(text)}</li>")
            elif isinstance(item, Block):
                if item.kind == "heading":
                    out.append(f"<h{item.level}>{esc(item.text)}</h{item.level}>")
                else:
                    out.append(f"<p>{esc(item.text)}</p>")
            elif isinstance(item, Table) and options.includeTables:
                out.append("<table>")
                head, *body = item.rows
                out.append(
                    "<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in head) + "</tr></thead>"
                )
                out.append("<tbody>")
                out += [
                    "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body
                ]
                out.append("</tbody></table>")
            elif isinstance(item, Picture) and options.includeImages and item.file:
                data = base64.b64encode(item.file.read_bytes()).decode("ascii")
                width = round(item.bbox[2] - item.bbox[0])
                out.append(
                    f'<img src="data:image/png;base64,{data}" width="{width}" '
                    f'alt="Picture on page {page.number}">'
                )
        if open_list:
            out.append(f"</{open_list}>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
