"""The `rag` command. Thin: parses arguments, calls the Engine, prints. Library errors become one-line
messages and exit codes here. `rag chat` and `rag eval` are provided by the `ui` and `eval` packages
through the `rag.commands` entry-point group, so the library itself never imports them."""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from .errors import RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions of a collection of research-paper abstracts and get answers cited "
                       "to papers by exact title.\n\nSettings come from RAG_* environment variables "
                       "(see README). With no LLM configured, answers are extractive (quoted and cited).")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def make_engine(**overrides: Any):  # type: ignore[no-untyped-def]
    from .engine import Engine
    from .settings import Settings

    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        fail(f"invalid setting {'.'.join(str(x) for x in err['loc'])}: {err['msg']}", 2)
    return Engine(settings)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (daily-papers .txt dumps, "
                                                        "JSONL, CSV, arXiv snapshot). Default: RAG_DATA_DIR.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it from scratch.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Remove papers that are no longer in the given "
                                        "sources.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Parse, chunk, embed and index papers. Re-runs only embed what changed."""
    engine = make_engine()
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        typer.echo(f"warning: {msg}", err=True)

    report = engine.ingest(paths or None, rebuild=rebuild, prune=prune, progress=not quiet and not as_json,
                           on_warning=warn)
    if as_json:
        echo_json(report.to_dict())
        return
    typer.echo(f"read {report.entries} entries → {report.papers} papers from {len(report.files)} files; "
               f"{report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.removed} removed; {report.chunks_written} chunks embedded in {report.seconds:.1f}s"
               + (f"; {len(warnings)} warnings" if warnings else ""))


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Papers, chunks, sources, embedding model and where the index lives."""
    s = make_engine().stats()
    if as_json:
        echo_json(s)
        return
    typer.echo(f"papers      {s['papers']}\nchunks      {s['chunks']}\nsources     {s['sources']} files\n"
               f"embedding   {s['embedding_model']} ({s['embedding_dim']} dims, {s['embedder_backend']})\n"
               f"index       {s['index']} ({s['backend']}, collection {s['collection']})")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for: words, a title or a paper's nickname.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=100, help="Papers to return.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as a JSON list.")] = False,
) -> None:
    """Find the papers that best match QUERY (one hit per paper, best first)."""
    hits = make_engine().search(query, k)
    if as_json:
        echo_json([h.to_dict() for h in hits])
        return
    if not hits:
        typer.echo("no matching papers")
    for i, h in enumerate(hits, 1):
        side = f"  [side: {h.side}]" if h.side else ""
        typer.echo(f"{i:>2}. {h.title}  ({h.score:.3f}){side}\n    {h.text[:200]}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the collection.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print Answer.to_dict() as JSON.")] = False,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Extractive answer even if an LLM is set.")] = False,
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=50, help="Papers to use as sources.")] = None,
) -> None:
    """Answer QUESTION with citations \\[n] to papers by exact title."""
    ans = make_engine().ask(question, k=k, use_llm=False if no_llm else None)
    if as_json:
        echo_json(ans.to_dict())
        return
    if ans.notice:
        typer.echo(f"note: {ans.notice}", err=True)
    typer.echo(ans.text)
    if ans.citations:
        typer.echo("\nSources:")
        for c in ans.citations:
            typer.echo(f"[{c.n}] {c.title}")


def _register_plugins() -> None:
    """Add subcommands contributed by the ui/eval packages (entry-point group `rag.commands`)."""
    for ep in entry_points(group="rag.commands"):
        try:
            register = ep.load()
        except Exception as e:  # a broken optional face must not break the core CLI
            logging.getLogger(__name__).debug("cannot load %s: %s", ep.name, e)
            continue
        register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    _register_plugins()
    try:
        app()
    except RagError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
