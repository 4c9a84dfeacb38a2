"""The `gradverify` command line.

Exit codes: 0 every check holds, 1 a check fails, 2 bad usage or an
implementation that cannot be loaded.
"""

from __future__ import annotations

import argparse
import sys
import time

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on bad usage; keep it, say it plainly
        self.print_usage(sys.stderr)
        print(f"gradverify: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradverify", description="Verify hand-written backprop against JAX and PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ex = sub.add_parser("examples", help="run the worked examples from the literature")
    ex.add_argument("--impl", default="impl", help="module name or path to a .py file (default: the bundled impl)")
    ex.add_argument("--report", help="write a Markdown report here")
    ex.set_defaults(func=_cmd_examples)
    return parser


def _cmd_examples(args: argparse.Namespace) -> int:
    from properties.loader import ImplLoadError, load_impl
    from properties.report_io import write_atomic
    from properties.worked_examples import WORKED_EXAMPLES

    try:
        module = load_impl(args.impl)
    except ImplLoadError as exc:
        print(f"gradverify: cannot load the implementation: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rows, failed = [], 0
    for ex in WORKED_EXAMPLES.values():
        start = time.perf_counter()
        try:
            results = ex.check(module)
            error = None
        except Exception as exc:  # noqa: BLE001 - the implementation under test may raise anything
            results, error = [], f"raised {type(exc).__name__}: {exc}"
        ok = error is None and all(c.ok for c in results)
        failed += not ok
        rows.append((ex, ok, results, error, time.perf_counter() - start))
        print(f"{'PASS' if ok else 'FAIL'}  {ex.name}: {ex.claim}", file=sys.stderr)
        for c in results:
            if not c.ok:
                print(f"      {c.describe()}", file=sys.stderr)
        if error:
            print(f"      {error}", file=sys.stderr)
    if args.report:
        write_atomic(args.report, _render_examples(args.impl, rows, failed))
        print(f"report written to {args.report}", file=sys.stderr)
    return EXIT_FAIL if failed else EXIT_OK


def _render_examples(impl_name: str, rows: list, failed: int) -> str:
    verdict = "**PASS**" if not failed else f"**FAIL** ({failed} of {len(rows)})"
    lines = [
        "# gradverify: worked examples",
        "",
        f"{verdict} — {len(rows) - failed} of {len(rows)} worked examples hold for `{impl_name}`.",
        "",
        "| example | claim | result | checks | max abs err | tolerance | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for ex, ok, results, error, _ in rows:
        max_abs = max((c.max_abs_err for c in results), default=float("nan"))
        tol = results[0].tolerance if results else "—"
        lines.append(
            f"| `{ex.name}` | {ex.claim} | {'pass' if ok else 'FAIL'} | {len(results)} | {max_abs:.2e} | {tol} | {ex.source} |"
        )
    for ex, ok, results, error, _ in rows:
        if ok:
            continue
        lines += ["", f"<details><summary>{ex.name} failed</summary>", ""]
        lines += [f"- {error}"] if error else [f"- {c.describe()}" for c in results if not c.ok]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
