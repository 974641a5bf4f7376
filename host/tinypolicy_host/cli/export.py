"""`tinypolicy export`: command line of `tinypolicy_host.export.artifacts` (argument parsing, error reporting)."""
from __future__ import annotations

import json
from pathlib import Path

from ..contract.spec import load_spec_file
from ..errors import UserError
from ..export.artifacts import default_golden_dir, export_all, spec_digest
from ..paths import MODELS, REPO
from ..userpaths import folder


def add_arguments(parser):
    parser.add_argument("--spec", type=Path, default=REPO / "build" / "train" / "policy_spec.npz",
                        help="trained float spec (.npz from `tinypolicy train`)")
    parser.add_argument("--out", type=Path, default=MODELS, help="artifact folder (default: models/)")
    parser.add_argument("--golden", type=Path, default=None,
                        help="golden vector folder (default: tests/data/golden when OUT is the repository's models/, "
                             "else the folder `golden` beside OUT, so exporting elsewhere never touches the golden "
                             "vectors of the shipped models)")
    parser.add_argument("--provenance", type=Path, default=None,
                        help="JSON with seed, training command, ... (default: provenance.json beside the spec)")
    parser.add_argument("--returns", type=Path, default=None,
                        help="JSON table of measured returns (default: returns.json beside the spec, if any)")
    parser.add_argument("--evaluate", type=int, default=0, metavar="EPISODES",
                        help="measure the returns table now (float/int8/q15, tinypolicy_host.evaluation.gym) over this "
                             "many episodes instead of reading it")


def run(args) -> int:
    if args.evaluate < 0:
        raise UserError(f"--evaluate: {args.evaluate}: the number of episodes must be >= 1 (0: read the table)")
    folder(args.out, "--out", create=False)
    golden = args.golden if args.golden is not None else default_golden_dir(args.out)
    folder(golden, "--golden", create=False)
    spec = load_spec_file(args.spec)
    provenance = _load_json(args.provenance or args.spec.with_name("provenance.json"), args.provenance is not None)
    returns = _load_json(args.returns or args.spec.with_name("returns.json"), args.returns is not None) or None
    # Re-exporting the spec that training already exported: keep its training provenance (and returns).
    old = _old_metadata(args.out / "metadata.json")
    old_prov = old.get("provenance")
    if isinstance(old_prov, dict) and old_prov.get("spec_sha256") == spec_digest(spec):
        provenance = {**old_prov, **provenance}
        returns = returns or old.get("returns")
    provenance["spec"] = _rel(args.spec)
    if args.evaluate:
        from ..evaluation.gym import format_table, results_table

        returns = results_table(spec, args.evaluate)
        print(format_table(returns))
    try:
        written = export_all(spec, args.out, provenance, returns, golden_dir=golden)
    except OSError as exc:  # e.g. a read-only folder
        raise UserError(f"{exc.filename or args.out}: cannot write: {exc.strerror or exc}") from None
    for path in written:
        print(f"wrote {_rel(path)} ({path.stat().st_size} bytes)")
    return 0


def _load_json(path: Path, required: bool) -> dict:
    """The JSON object in path ({} if the file is missing and not required); UserError naming the file if it is
    not valid JSON or not an object."""
    if not path.is_file():
        if required:
            raise UserError(f"{path}: no such file")
        return {}
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: must hold a JSON object ({{...}}), not a {type(value).__name__}")
    return value


def _old_metadata(path: Path) -> dict:
    """A previous export's metadata.json in the output folder ({} if there is none or it is unusable: it is only
    consulted to keep the training provenance of the same spec, and is rewritten)."""
    try:
        return _load_json(path, False)
    except UserError:
        return {}


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)
