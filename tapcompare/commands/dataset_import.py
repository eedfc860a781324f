"""`tapcompare dataset import --from capture|goreplay|har FILE --seed DATASET --out OUT`.

Recorded traffic becomes a dataset's request log (PII scrubbed like the live capture; a live capture
of `proxy serve` was scrubbed when recorded); the seed
snapshot comes from another dataset (or a production export in the dataset format). Attach with
`dataset.add_command(import_cmd)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from datasets.from_capture import read_capture, read_records, seed_of, write_capture_dataset
from datasets.scrub import Scrubber
from datasets.format import DatasetError
from datasets.imports.common import ImportFormatError, ImportResult
from datasets.imports.goreplay import read_goreplay
from datasets.imports.har import read_har
from tapcompare.context import settings_from_click

# (source, scrubber, strict=...) -> ImportResult; read_capture also takes `strict` by position.
READERS: dict[str, Callable[..., ImportResult]] = {"capture": read_capture, "goreplay": read_goreplay, "har": read_har}


@click.command("import")
@click.option("--from", "fmt", type=click.Choice(sorted(READERS)), required=True, help="Input format.")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", "seed_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Dataset whose seed snapshot the traffic ran against.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output; .gz compresses.")
@click.option("--pseudonym-key", default=None,
              help="Key of the user pseudonyms (default: capture.pseudonym_key, else random per import).")
@click.option("--keep-text/--scrub-text", default=None,
              help="Keep comment text (e-mails, URLs, IPs replaced) or replace it by filler (default: capture.keep_text).")
@click.option("--skip-malformed", is_flag=True, help="Skip and count malformed records instead of failing.")
@click.pass_context
def import_cmd(ctx: click.Context, fmt: str, source: Path, seed_path: Path, out: Path, pseudonym_key: str | None,
               keep_text: bool | None, skip_malformed: bool) -> None:
    """Import a live capture (`[capture]` of `proxy serve`), GoReplay (.gor) or HAR 1.2 traffic as a dataset."""
    capture = settings_from_click(ctx).capture
    scrubber = Scrubber(pseudonym_key or capture.pseudonym_key or None,
                        keep_text=capture.keep_text if keep_text is None else keep_text,
                        keep_pseudonyms=capture.keep_pseudonyms)
    try:
        result: ImportResult = READERS[fmt](source, scrubber, strict=not skip_malformed)
        seed = seed_of(read_records(seed_path))
        summary = write_capture_dataset(result.records, seed, out, source=f"import:{fmt}",
                                        extra_header={"skipped": dict(sorted(result.skipped.items()))})
    except (ImportFormatError, DatasetError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for message in result.malformed:
        click.echo(f"skipped: {message}", err=True)
    dropped = summary.header.get("dropped_requests", {})
    click.echo(f"wrote {out}: {sum(summary.requests.values())} requests {summary.requests}; "
               f"skipped {dict(result.skipped)}; dropped (unresolved) {dropped}")
