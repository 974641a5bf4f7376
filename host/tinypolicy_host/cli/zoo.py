"""`tinypolicy zoo`: command line of `tinypolicy_host.zoo` (argument parsing, error reporting)."""
import datetime

from ..errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("tasks", nargs="*", help="zoo task names (default: all); see zoo/tasks.py")
    parser.add_argument("--episodes", type=int, default=100, help="held-out episodes per policy (default 100)")
    parser.add_argument("--retrain", action="store_true",
                        help="train again even when build/zoo/<task> holds a finished training of the same setup")
    parser.add_argument("--no-pendulum", action="store_true", help="leave out the shipped pendulum row")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")


def run(args) -> int:
    from ..convert.sb3_convert import git_commit
    from ..paths import BUILD, MODELS
    from ..zoo.build import run_zoo
    from ..zoo.tasks import TASKS, task

    if args.list:
        for t in TASKS:
            print(f"{t.name:<26} {t.env_id:<28} {t.algo.upper():<4} actor {'x'.join(map(str, t.hidden)):<6} "
                  f"goal {t.goal:g}  ({t.source})")
        return 0
    if args.episodes < 1:
        raise UserError("--episodes: must be at least 1")
    try:
        tasks = [task(n) for n in args.tasks] if args.tasks else list(TASKS)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Results of `tinypolicy zoo{' ' + ' '.join(args.tasks) if args.tasks else ''} --episodes "
              f"{args.episodes}` (`make zoo`) at commit {git_commit() or '?'}, {now}.")
    rows = run_zoo(tasks, MODELS, BUILD / "zoo", args.episodes, header, retrain=args.retrain,
                   pendulum=not args.no_pendulum)
    missed = [r["env"] for r in rows if not r["goal_met"]]
    print(f"wrote {MODELS / 'zoo' / 'README.md'}: {len(rows)} tasks, goal missed: {', '.join(missed) or 'none'}")
    return 0
