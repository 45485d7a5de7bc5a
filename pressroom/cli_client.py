"""``pressroom submit`` and ``pressroom jobs``: the command-line client.

The sub-commands of ``submit`` and their options are built at run time from
the server's capabilities (``GET /api/extended-features/capabilities``): each
operation becomes a command, each of its fields an option (``compressionLevel``
is ``--compression-level``, with friendly aliases such as ``--level``), and
the fields of a JSON-object field (``options``) become options of their own,
sent together as that object. So a new operation or option on the server
needs no change here.

The server is ``--url`` (or ``PRESSROOM_URL``), the key ``--api-key`` (or
``PRESSROOM_API_KEY``), sent as ``X-API-Key``. A failure exits with status 1
and prints the error code.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from pressroom.client import DEFAULT_URL, ApiError, JobHistory, PressroomClient

#: friendly extra names for common fields (added when the operation has the field)
ALIASES: dict[str, tuple[str, ...]] = {
    "compressionLevel": ("--level",),
    "imageQuality": ("--quality",),
    "imageResolution": ("--dpi",),
    "targetSizeMb": ("--target-mb",),
    "target_language": ("--to",),
    "outputFormat": ("--output-format",),
    "language": ("--lang",),
}
#: options every submit command has; a field never takes these names
RESERVED = {
    "--url",
    "--api-key",
    "--wait",
    "--no-wait",
    "--output",
    "--json",
    "--timeout",
    "--text",
}

err = Console(stderr=True, highlight=False)
#: piped output keeps whole lines (a job id is never folded)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

url_option = click.option(
    "--url",
    envvar="PRESSROOM_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The Pressroom server (PRESSROOM_URL).",
)
key_option = click.option(
    "--api-key", envvar="PRESSROOM_API_KEY", default=None, help="API key (PRESSROOM_API_KEY)."
)


def fail(error: ApiError) -> NoReturn:
    """Print an API error in plain words with its code, and exit 1."""
    err.print(f"[bold red]error[/] {error.code}: {error.message}", markup=True, soft_wrap=True)
    for line in error.problems():
        err.print(f"  - {line}", markup=False, soft_wrap=True)
    sys.exit(1)


def kebab(name: str) -> str:
    return "--" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).replace("_", "-").lower()


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``$ref`` followed and ``X | None`` unwrapped."""
    if "$ref" in schema:
        target = root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {})
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**_resolve(target, root), **rest}
    for key in ("anyOf", "oneOf"):
        if key in schema:
            real = [s for s in schema[key] if s.get("type") != "null"]
            if len(real) == 1:
                rest = {k: v for k, v in schema.items() if k != key}
                return {**_resolve(real[0], root), **rest}
    if len(schema.get("allOf", [])) == 1:
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return {**_resolve(schema["allOf"][0], root), **rest}
    if schema.get("contentMediaType") == "application/json" and "contentSchema" in schema:
        # a string holding JSON (pydantic's Json[Model]): its content's schema
        keep = {k: v for k, v in schema.items() if k in ("description", "default")}
        return {**_resolve(schema["contentSchema"], root), **keep}
    return schema


def _param_type(schema: dict[str, Any]) -> click.ParamType | None:
    if "enum" in schema:
        return click.Choice([str(v) for v in schema["enum"]])
    kind = schema.get("type")
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if kind == "integer":
        return click.IntRange(low, high) if low is not None or high is not None else click.INT
    if kind == "number":
        return click.FloatRange(low, high) if low is not None or high is not None else click.FLOAT
    return None


class FieldOption(click.Option):
    """An option that fills ``path`` (field, or field.child) of the request."""

    def __init__(self, decls: list[str], path: tuple[str, ...], kind: str, **kwargs: Any):
        super().__init__(decls, **kwargs)
        self.path = path
        self.kind = kind


def _field_options(op: dict[str, Any]) -> list[click.Parameter]:
    root = op.get("fields") or {}
    taken = set(RESERVED)
    params: list[click.Parameter] = []

    def add(path: tuple[str, ...], schema: dict[str, Any], required: bool) -> None:
        name = path[-1]
        names = [kebab(name), "--" + name, *ALIASES.get(name, ())]
        if len(path) > 1 and names[0] in taken:  # a nested field named like another one
            names = [kebab("_".join(path))]
        decls = list(dict.fromkeys(n for n in names if n not in taken))
        if not decls:
            return
        taken.update(decls)
        help_text = schema.get("description", "")
        if "default" in schema and schema["default"] is not None:
            help_text += f" [default: {schema['default']}]"
        dest = "f__" + "__".join(path)
        kind = schema.get("type", "string")
        if kind == "boolean":
            flag = decls[0]
            decls = [f"{flag}/--no-{flag[2:]}", *decls[1:]]
            params.append(FieldOption([*decls, dest], path, kind, default=None, help=help_text))
            return
        multiple = kind == "array"
        item = _resolve(schema.get("items", {}), root) if multiple else schema
        params.append(
            FieldOption(
                [*decls, dest],
                path,
                "json" if kind == "object" else kind,
                type=_param_type(item),
                multiple=multiple,
                default=None,
                required=False,  # the server says what is missing, in its own words
                help=help_text
                + (" (JSON)" if kind == "object" else "")
                + (" (required)" if required else ""),
            )
        )

    properties = root.get("properties", {})
    required = set(root.get("required", []))
    for name, raw in properties.items():
        schema = _resolve(raw, root)
        if schema.get("type") == "object" and schema.get("properties"):
            add((name,), schema, name in required)  # the whole object as JSON text
            inner_required = set(schema.get("required", []))
            for child, sub in schema["properties"].items():
                add((name, child), _resolve(sub, root), child in inner_required)
        else:
            add((name,), schema, name in required)
    return params


def _fields_from(params: dict[str, Any], command: click.Command) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for param in command.params:
        if not isinstance(param, FieldOption) or param.name is None:
            continue
        value = params.get(param.name)
        if value is None or value == ():
            continue
        if param.kind == "json":
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise click.BadParameter(f"not valid JSON: {exc}", param=param) from None
        elif param.multiple:
            value = list(value)
        if len(param.path) == 1:
            if isinstance(fields.get(param.path[0]), dict) and isinstance(value, dict):
                value = {**value, **fields[param.path[0]]}
            fields[param.path[0]] = value
        else:
            parent = fields.setdefault(param.path[0], {})
            if isinstance(parent, dict):
                parent[param.path[1]] = value
    return fields


# -- submit ------------------------------------------------------------------------
class SubmitGroup(click.Group):
    """A group whose commands are the server's operations, learnt at run time."""

    def _operations(self, ctx: click.Context) -> list[dict[str, Any]]:
        cached: list[dict[str, Any]] | None = ctx.meta.get("pressroom.operations")
        if cached is None:
            cached = _client(ctx).operations()
            ctx.meta["pressroom.operations"] = cached
        return cached

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            return [op["name"].replace("_", "-") for op in self._operations(ctx)]
        except ApiError as exc:
            err.print(f"(cannot list the operations: {exc.message})", markup=False)
            return []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        wanted = cmd_name.replace("-", "_")
        try:
            ops = self._operations(ctx)
        except ApiError as exc:
            fail(exc)
        for op in ops:
            if op["name"] == wanted:
                return _operation_command(op)
        return None


def _client(ctx: click.Context) -> PressroomClient:
    # --help is handled before the group's own options are read: look at the
    # environment too
    url = ctx.params.get("url") or os.environ.get("PRESSROOM_URL") or DEFAULT_URL
    key = ctx.params.get("api_key") or os.environ.get("PRESSROOM_API_KEY")
    # --url/--api-key given after the operation's name count too
    args = list(getattr(ctx, "protected_args", [])) + list(ctx.args)
    for i, arg in enumerate(args):
        for option in ("--url", "--api-key"):
            value = None
            if arg == option and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(option + "="):
                value = arg.split("=", 1)[1]
            if value and option == "--url":
                url = value
            elif value:
                key = value
    return PressroomClient(url, key)


def _operation_command(op: dict[str, Any]) -> click.Command:
    params: list[click.Parameter] = []
    body = op["body"]
    if body == "file":
        params.append(
            click.Argument(["file"], type=click.Path(exists=True, dir_okay=False, path_type=Path))
        )
    elif body == "files":
        params.append(
            click.Argument(
                ["files"],
                nargs=-1,
                required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
            )
        )
    else:
        params.append(click.Argument(["input"], required=False))
    params += _field_options(op)
    params += [
        click.Option(
            ["--url"], envvar="PRESSROOM_URL", default=None, help="The server (PRESSROOM_URL)."
        ),
        click.Option(
            ["--api-key"],
            envvar="PRESSROOM_API_KEY",
            default=None,
            help="API key (PRESSROOM_API_KEY).",
        ),
        click.Option(
            ["--wait/--no-wait"], default=False, help="Follow the job to its end, then download."
        ),
        click.Option(
            ["-o", "--output"],
            type=click.Path(dir_okay=True, path_type=Path),
            default=None,
            help="Where to save the result (a file, or a folder); implies --wait.",
        ),
        click.Option(
            ["--timeout"], type=float, default=3600, show_default=True, help="Most seconds to wait."
        ),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the final job view as JSON."),
    ]
    accepts = ", ".join(op.get("accepts") or [])
    if body == "json":
        usage = "INPUT is the text: a file's path, '-' for standard input, or the text itself."
    elif body == "files":
        usage = f"FILES are sent together as one job ({accepts})."
    else:
        usage = f"FILE is the input ({accepts})."

    def callback(**kwargs: Any) -> None:
        ctx = click.get_current_context()
        _run_submit(ctx, op, kwargs)

    return click.Command(
        op["name"].replace("_", "-"),
        params=params,
        callback=callback,
        help=f"{op.get('summary', '')}\n\n{usage}",
        short_help=op.get("summary", ""),
    )


def _run_submit(ctx: click.Context, op: dict[str, Any], kw: dict[str, Any]) -> None:
    client = _client(ctx)
    fields = _fields_from(kw, ctx.command)
    files: list[Path] = []
    if op["body"] == "file":
        files = [kw["file"]]
    elif op["body"] == "files":
        files = list(kw["files"])
    elif kw.get("input") is not None:
        props = (op.get("fields") or {}).get("properties", {})
        target = "text" if "text" in props else next(iter(props), "text")
        fields.setdefault(target, _read_text(kw["input"]))
    wait = kw["wait"] or kw["output"] is not None
    try:
        data = client.submit(op, fields, files)
        if not op.get("queued"):
            _show_instant(data, kw["output"])
            return
        job_id = data["job_id"]
        JobHistory().add(client.url, job_id)
        err.print(f"job {job_id} {data.get('status', 'pending')} ({op['name']})", markup=False)
        for entry in data.get("files") or []:
            if entry.get("error"):
                error = entry["error"]
                err.print(
                    f"  refused {entry['filename']}: {error['message']} ({error['code']})",
                    markup=False,
                )
        if not wait:
            if kw["as_json"]:
                out.print_json(json.dumps(data))
            else:
                out.print(job_id, markup=False)
            return
        view = _follow(client, job_id, kw["timeout"])
    except ApiError as exc:
        fail(exc)
    if kw["as_json"]:
        out.print_json(json.dumps(view))
    _finish(client, view, kw["output"], quiet=kw["as_json"])


def _read_text(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        return path.read_text(encoding="utf-8", errors="replace")
    return value


def _follow(client: PressroomClient, job_id: str, timeout: float) -> dict[str, Any]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[words]}"),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("pending", total=100, words="")

        def update(view: dict[str, Any]) -> None:
            progress = view.get("progress") or {}
            words = progress.get("message") or progress.get("stage") or ""
            bar.update(
                task,
                completed=progress.get("percentage") or 0,
                description=view["status"],
                words=str(words)[:60],
            )

        return client.wait(job_id, update, timeout=timeout)


def _finish(
    client: PressroomClient, view: dict[str, Any], output: Path | None, *, quiet: bool
) -> None:
    if view["status"] != "completed":
        error = view.get("error") or {}
        fail(
            ApiError(
                error.get("code") or view["status"].upper(),
                error.get("message") or f"The job {view['status']}.",
            )
        )
    result = view.get("result") or {}
    summary = _summary(result)
    if summary and not quiet:
        err.print(summary, markup=False)
    if view.get("download_url"):
        name = (result.get("file") or {}).get("filename") or f"{view['job_id']}.bin"
        target = _target(output, name)
        try:
            size = client.download(view["job_id"], target)
        except ApiError as exc:
            fail(exc)
        err.print(f"saved {target} ({size} bytes)", markup=False)
    elif not quiet:
        text = next(
            (
                result[k]
                for k in ("text", "summary", "translated_text", "translation", "markdown")
                if isinstance(result.get(k), str)
            ),
            None,
        )
        body = text if text is not None else json.dumps(result, indent=2, ensure_ascii=False)
        if output is not None:
            output.write_text(body, encoding="utf-8")
            err.print(f"saved {output}", markup=False)
        else:
            out.print(body, markup=False, highlight=False, soft_wrap=True)


def _target(output: Path | None, name: str) -> Path:
    safe = Path(name).name or "result"
    if output is None:
        target = Path.cwd() / safe
    elif output.is_dir():
        target = output / safe
    else:
        return output
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():  # never overwrite a file the user did not name
        target = target.with_name(f"{stem} ({n}){suffix}")
        n += 1
    return target


def _summary(result: dict[str, Any]) -> str:
    totals = result.get("totals")
    if isinstance(totals, dict):
        return (
            f"{totals.get('completed')} of {totals.get('files')} files: "
            f"{totals.get('original_size')} -> {totals.get('compressed_size')} bytes "
            f"({totals.get('compression_ratio')} % saved)"
        )
    if isinstance(result.get("original_size"), int) and isinstance(
        result.get("compressed_size"), int
    ):
        note = " (the original was already as small)" if result.get("returned_original") else ""
        return (
            f"{result['original_size']} -> {result['compressed_size']} bytes "
            f"({result.get('compression_ratio', 0)} % saved){note}"
        )
    return ""


def _short(result: dict[str, Any]) -> str:
    ratio = (result.get("totals") or result).get("compression_ratio")
    if isinstance(ratio, int | float):
        return f"{ratio} % saved"
    return str((result.get("file") or {}).get("filename") or "")


def _show_instant(data: dict[str, Any], output: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        err.print(f"saved {output}", markup=False)
    else:
        out.print_json(text)


@click.group(cls=SubmitGroup)
@url_option
@key_option
def submit(url: str, api_key: str | None) -> None:
    """Submit a job to a Pressroom server: one command per operation it offers
    (run `pressroom submit --help` against the server to list them)."""


# -- jobs -----------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@url_option
@key_option
@click.option("--status", default=None, help="Only jobs in this status.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
def jobs(
    ctx: click.Context, url: str, api_key: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """List the jobs on the server, newest first (`jobs show ID` for one)."""
    if ctx.invoked_subcommand is not None:
        return
    client = PressroomClient(url, api_key)
    try:
        page = client.jobs(status=status, limit=limit)
    except ApiError as exc:
        if exc.code != "JOB_LIST_DISABLED":
            fail(exc)
        page = _remembered_jobs(client, status, limit)
    if as_json:
        out.print_json(json.dumps(page))
        return
    table = Table("operation", "status", "progress", "created", "result")
    table.columns.insert(0, Column("job", no_wrap=True, min_width=36))
    for view in page["jobs"]:
        error = view.get("error") or {}
        result = view.get("result") or {}
        table.add_row(
            view["job_id"],
            view["task_type"],
            view["status"],
            f"{(view.get('progress') or {}).get('percentage', 0)} %",
            (view.get("created_at") or "")[:19].replace("T", " "),
            error.get("code") or _short(result),
        )
    out.print(table)
    err.print(f"{len(page['jobs'])} of {page['total']} jobs", markup=False)


def _remembered_jobs(client: PressroomClient, status: str | None, limit: int) -> dict[str, Any]:
    """The jobs submitted from here, for a server that lists none without a key."""
    err.print(
        "This server lists jobs only to API keys; showing the jobs submitted from here.",
        markup=False,
    )
    views: list[dict[str, Any]] = []
    for job_id in JobHistory().ids(client.url):
        if len(views) == limit:
            break
        try:
            view = client.job(job_id)
        except ApiError as exc:
            if exc.status == 404:  # deleted, or past its retention
                continue
            fail(exc)
        if status is None or view["status"] == status:
            views.append(view)
    return {"jobs": views, "total": len(views)}


def _sub_client(ctx: click.Context, url: str | None, api_key: str | None) -> PressroomClient:
    parent = ctx.parent.params if ctx.parent else {}
    return PressroomClient(
        url or parent.get("url") or DEFAULT_URL, api_key or parent.get("api_key")
    )


@jobs.command("show")
@click.argument("job_id")
@click.option("--url", envvar="PRESSROOM_URL", default=None)
@click.option("--api-key", envvar="PRESSROOM_API_KEY", default=None)
@click.pass_context
def jobs_show(ctx: click.Context, job_id: str, url: str | None, api_key: str | None) -> None:
    """Show one job: status, progress, result and error (JSON)."""
    try:
        view = _sub_client(ctx, url, api_key).job(job_id)
    except ApiError as exc:
        fail(exc)
    out.print_json(json.dumps(view))


@jobs.command("download")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None)
@click.option("--url", envvar="PRESSROOM_URL", default=None)
@click.option("--api-key", envvar="PRESSROOM_API_KEY", default=None)
@click.pass_context
def jobs_download(
    ctx: click.Context, job_id: str, output: Path | None, url: str | None, api_key: str | None
) -> None:
    """Download a completed job's result."""
    client = _sub_client(ctx, url, api_key)
    try:
        view = client.job(job_id)
        name = ((view.get("result") or {}).get("file") or {}).get("filename") or f"{job_id}.bin"
        target = _target(output, name)
        size = client.download(job_id, target)
    except ApiError as exc:
        fail(exc)
    err.print(f"saved {target} ({size} bytes)", markup=False)


@jobs.command("cancel")
@click.argument("job_id")
@click.option("--url", envvar="PRESSROOM_URL", default=None)
@click.option("--api-key", envvar="PRESSROOM_API_KEY", default=None)
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: str, url: str | None, api_key: str | None) -> None:
    """Cancel a pending or running job, or delete a finished job's files."""
    try:
        view = _sub_client(ctx, url, api_key).cancel(job_id)
    except ApiError as exc:
        fail(exc)
    err.print(f"job {job_id}: {view['status']}", markup=False)
