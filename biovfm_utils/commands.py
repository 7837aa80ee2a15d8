"""The subcommands of ``biovfm``: each a thin layer over the library.

:mod:`biovfm_utils.cli` builds the argument parser and dispatches here. A
subcommand returns its exit status, or raises :class:`UsageError` for a request
it cannot serve (exit status 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


class UsageError(Exception):
    """A request the command line cannot serve, with the message to show."""


def _catalog():
    from biovfm_utils.catalog import load_catalog

    return load_catalog()


def _find(name: str):
    from biovfm_utils.catalog import find_source

    try:
        return find_source(name, _catalog())
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def _modality_sources(modality: str, include_collections: bool):
    import difflib

    from biovfm_utils.catalog import (
        MODALITIES,
        PRINTED_MODALITIES,
        sources_for_modality,
    )

    try:
        return sources_for_modality(
            modality, _catalog(), collections=include_collections
        )
    except KeyError as exc:
        # Canonical names come last, so they win over printed labels such as X-Ray.
        spellings = {
            name.casefold(): name for name in (*PRINTED_MODALITIES, *MODALITIES)
        }
        close = difflib.get_close_matches(
            modality.casefold(), list(spellings), n=2, cutoff=0.5
        )
        hint = (
            f" Did you mean {' or '.join(spellings[c] for c in close)}?"
            if close
            else ""
        )
        raise UsageError(exc.args[0] + hint) from None


# table


def _table_latex(catalog) -> str:
    from biovfm_utils.tables import format_count

    def escape(text: str) -> str:
        for char, replacement in (
            ("\\", r"\textbackslash{}"),
            ("_", r"\_"),
            ("&", r"\&"),
            ("%", r"\%"),
            ("#", r"\#"),
        ):
            text = text.replace(char, replacement)
        return text

    lines = [
        r"\begin{tabular}{llrl}",
        r"\hline",
        r"Dataset & Modality & \#Images & Source \\",
        r"\hline",
    ]
    for _, source in catalog.iterrows():
        cite = r"~\cite{" + ",".join(source["citation_keys"]) + "}"
        count = format_count(source["n_images"]).replace(",", "{,}")
        url = (
            r"\href{"
            + source["url"].replace("%", r"\%").replace("#", r"\#")
            + "}{Link}"
        )
        lines.append(
            f"{escape(source['name'])}{cite} & {escape(source['modality'])} & {count} & {url} \\\\"
        )
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def run_table(args) -> int:
    from biovfm_utils.exports import catalog_csv, catalog_json
    from biovfm_utils.tables import format_count, markdown_table, table1_rows

    catalog = _catalog()
    if args.format == "csv":
        sys.stdout.write(catalog_csv(catalog))
    elif args.format == "json":
        sys.stdout.write(catalog_json(catalog))
    elif args.format == "latex":
        sys.stdout.write(_table_latex(catalog))
    else:
        rows = table1_rows(catalog)
        rows["Dataset"] = [
            f"{name} [{','.join(str(n) for n in numbers)}]"
            for name, numbers in zip(rows["Dataset"], rows["References"])
        ]
        rows = rows.drop(columns="References")
        print(markdown_table(rows, align={"#Images": "right"}))
        print()
        print(
            f"{len(catalog)} sources, {format_count(catalog['n_images'].sum())} images."
        )
    return 0


# stats


def run_stats(args) -> int:
    from biovfm_utils import stats
    from biovfm_utils.tables import format_count, format_share, markdown_table

    catalog = _catalog()
    counts = {
        "n_sources": format_count,
        "n_images": format_count,
        "share": format_share,
    }
    # (JSON key, title, first column of the text table, value)
    sections = [
        ("totals", "Totals", None, stats.totals(catalog)),
        (
            "by_group",
            "Images and sources per modality group",
            "Group",
            stats.by_group(catalog),
        ),
        (
            "sources_per_modality",
            "Sources listing each modality",
            "Modality",
            stats.sources_per_modality(catalog),
        ),
        (
            "largest_sources",
            "Largest sources",
            "Largest",
            stats.concentration(catalog, top=(1, 3, 6)),
        ),
        (
            "small_sources",
            "Sources with fewer than 1,000 images",
            None,
            stats.small_sources(catalog, 1000),
        ),
        ("by_year", "Sources and images by year", "Year", stats.by_year(catalog)),
        (
            "by_access",
            "Images by access route",
            "Access route",
            stats.by_access(catalog),
        ),
    ]
    if args.format == "json":
        payload = {"counting_rule": stats.COUNTING_RULE}
        for key, _, _, value in sections:
            if isinstance(value, dict):
                payload[key] = value
            else:
                payload[key] = json.loads(value.reset_index().to_json(orient="records"))
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0

    totals = sections.pop(0)[3]
    print(
        f"BioVFM-21M: {format_count(totals['n_images'])} images from "
        f"{totals['n_sources']} sources."
    )
    print(f"\nCounting rule: {stats.COUNTING_RULE}")
    for _, title, index, frame in sections:
        print(f"\n{title}\n")
        print(markdown_table(frame, counts, index=index))
    return 0


# info


def run_info(args) -> int:
    from biovfm_utils.access import access_steps, access_summary
    from biovfm_utils.tables import format_count

    source = _find(args.name)
    references = ", ".join(
        f"[{number}] {key}"
        for number, key in zip(source["reference_numbers"], source["citation_keys"])
    )
    relation = source["count_relation"]
    fields = [
        (
            "Modality",
            f"{', '.join(source['modalities'])} (printed: {source['modality']})",
        ),
        (
            "Images",
            f"{format_count(source['n_images'])} ({relation}: {source['count_note']})",
        ),
        ("Year", str(source["year"])),
        ("Link", source["url"]),
        ("Access", access_summary(source)),
        ("Licence", f"{source['licence']} [{source['licence_evidence']}]"),
        ("References", references),
        (
            "Verified",
            "yes (access and licence confirmed by the owner)"
            if source["verified"]
            else f"no (access: {source['access_evidence']}, "
            f"licence: {source['licence_evidence']})",
        ),
    ]
    print(f"{source['name']} (Table 1, row {source.name})")
    width = max(len(label) for label, _ in fields) + 2
    for label, value in fields:
        print(f"  {label + ':':<{width}}{value}")
    print("  How to obtain it:")
    for number, step in enumerate(access_steps(source), start=1):
        print(f"    {number}. {step}")
    if source["url_as_printed"]:
        print(f"  Note: the paper prints the link as {source['url_as_printed']}")
    return 0


# cite


def _cited_sources(args):
    from biovfm_utils.catalog import load_catalog

    catalog = load_catalog()
    if args.include_collections and not args.modality:
        raise UsageError("--include-collections works only with --modality.")
    if args.all:
        return catalog
    if args.modality:
        sources = _modality_sources(args.modality, args.include_collections)
        if sources.empty:
            raise UsageError(
                f"No single-modality source lists {args.modality!r}; "
                "add --include-collections to cite the collections that do."
            )
        return sources
    rows, unknown = [], []
    for name in args.names:
        try:
            rows.append(_find(name).name)
        except UsageError as exc:
            unknown.append(str(exc))
    if unknown:
        raise UsageError(" ".join(unknown))
    return catalog.loc[list(dict.fromkeys(rows))]


def run_cite(args) -> int:
    from biovfm_utils.bibliography import load_bibliography
    from biovfm_utils.bibstyle import format_references
    from biovfm_utils.catalog import citation_numbers
    from biovfm_utils.exports import bib_keys

    sources = _cited_sources(args)
    keys = bib_keys(sources, with_paper=args.with_paper)
    bibliography = load_bibliography()
    if args.format == "bibtex":
        sys.stdout.write(bibliography.to_bibtex(keys))
        return 0

    numbers = citation_numbers(_catalog())
    for key, text in zip(keys, format_references(bibliography, keys, backend="text")):
        label = f"[{numbers[key]}]" if key in numbers else "[BioVFM-21M]"
        print(f"{label} {text}")
    return 0


# fetch


def run_fetch(args) -> int:
    from biovfm_utils.fetch import fetch_source_sample, load_registry
    from biovfm_utils.fetch_errors import (
        AccessRequiredError,
        FetchError,
        SampleNotRegisteredError,
    )

    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout}.")
    if args.attempts < 1:
        raise UsageError(f"--attempts must be at least 1, not {args.attempts}.")

    if args.modality:
        names = list(_modality_sources(args.modality, True)["name"])
    else:
        names = [_find(args.name)["name"]]

    try:
        registry = load_registry(args.registry)
    except (FetchError, OSError) as exc:
        raise UsageError(str(exc)) from None

    failures = 0
    for name in names:
        try:
            result = fetch_source_sample(
                name,
                cache_dir=args.cache_dir,
                offline=args.offline,
                progress=not args.no_progress,
                registry=registry,
                timeout=(min(args.timeout, 10.0), args.timeout),
                attempts=args.attempts,
            )
        except AccessRequiredError as exc:
            if args.modality:
                print(f"{name}: skipped, needs an account; see `biovfm info {name}`")
                continue
            print(f"biovfm fetch: {exc}", file=sys.stderr)
            failures += 1
            continue
        except SampleNotRegisteredError as exc:
            if args.modality:
                print(
                    f"{name}: skipped, no registered sample; see `biovfm info {name}`"
                )
                continue
            print(f"biovfm fetch: {exc}", file=sys.stderr)
            failures += 1
            continue
        except FetchError as exc:
            print(f"biovfm fetch: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        origin = "cache" if result.from_cache else (result.url or "local copy")
        print(
            f"{name}: {result.path} ({result.size:,} bytes, sha256 {result.checksum}, from {origin})"
        )
    return 1 if failures else 0


# links


def run_links(args) -> int:
    from biovfm_utils import linkcheck

    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {args.concurrency}.")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout}.")
    output = Path(args.output) if args.output else linkcheck.default_report_path()
    if args.output is None and not linkcheck.in_source_checkout():
        raise UsageError(
            "The package is installed outside a source checkout, so its report file "
            "is not shown by any book; give --output PATH for the report."
        )
    targets = linkcheck.link_targets()
    results = linkcheck.check_links(
        targets,
        concurrency=args.concurrency,
        timeout=(args.timeout, args.timeout),
        progress=not args.no_progress,
    )
    broken = [result for result in results if not result.ok]
    if results and len(broken) == len(results):
        print(
            f"biovfm links: none of the {len(results)} links answered; check the "
            f"network connection. {output} was left unchanged.",
            file=sys.stderr,
        )
        return 1
    path = linkcheck.write_report(results, output)
    for result in broken:
        outcome = f"HTTP {result.status}" if result.status else result.error
        print(f"{result.source} ({result.kind}): {result.url}: {outcome}")
    print(
        f"{len(results) - len(broken)} of {len(results)} links answered; report written to {path}"
    )
    return 0


# export


def run_export(args) -> int:
    from biovfm_utils import exports
    from biovfm_utils.bibliography import load_bibliography

    if args.format == "csv":
        text = exports.catalog_csv()
    elif args.format == "json":
        text = exports.catalog_json()
    elif args.format == "jsonld":
        text = (
            json.dumps(exports.collection_jsonld(), indent=2, ensure_ascii=False) + "\n"
        )
    else:
        if args.output is None:
            raise UsageError(
                "--format bib writes one file per modality group; give --output FOLDER."
            )
        if Path(args.output).exists() and not Path(args.output).is_dir():
            raise UsageError(
                f"{args.output} is a file; --format bib writes one file per group, "
                "so give a folder."
            )
        written = exports.write_bib_downloads(
            args.output, bibliography=load_bibliography()
        )
        for path in written.values():
            print(path)
        return 0

    if args.output is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give the path of the file to write.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(target)
    return 0
